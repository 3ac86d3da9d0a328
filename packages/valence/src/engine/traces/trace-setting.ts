/**
 * Where traces go: an OTLP/HTTP endpoint, from the config file's `[traces]`
 * section or the OpenTelemetry environment variables. Unset (the default)
 * means no traces, and no OpenTelemetry module is ever loaded.
 */
import { ConfigValueError } from "../../errors.js";

export interface TraceSetting {
  /** The URL spans are POSTed to (OTLP/HTTP, JSON), `/v1/traces` included. */
  readonly url: string;
}

/**
 * The setting for an endpoint as OpenTelemetry means it: a base URL
 * (`OTEL_EXPORTER_OTLP_ENDPOINT`, the file's `traces.endpoint`) gets
 * `/v1/traces` appended; a traces URL (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
 * is used as it is. Throws `ConfigValueError` naming `source` and `key` for
 * anything but an http(s) URL.
 *
 * @example
 * traceSetting("http://collector:4318", "base", "env:OTEL_EXPORTER_OTLP_ENDPOINT", "traces.endpoint");
 * // { url: "http://collector:4318/v1/traces" }
 */
export function traceSetting(raw: string, form: "base" | "traces", source: string, key: string): TraceSetting {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigValueError(source, key, `must be an http or https URL such as "http://localhost:4318", not ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigValueError(source, key, `must be an http or https URL such as "http://localhost:4318" (OTLP over HTTP), not ${JSON.stringify(raw)}`);
  }
  if (form === "traces") return { url: url.href };
  return { url: `${url.href.replace(/\/+$/, "")}/v1/traces` };
}
