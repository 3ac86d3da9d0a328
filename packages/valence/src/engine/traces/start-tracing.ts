/**
 * Turns traces on when they are configured, and only then loads OpenTelemetry
 * (a dynamic import): with traces off, which is the default, a dispatch
 * loads and does nothing more.
 */
import type { RunObserver } from "../observe/observation.js";
import type { TraceSetting } from "./trace-setting.js";

/** Hears runs and turns them into spans; `shutdown` sends what is left. */
export interface Tracing extends RunObserver {
  shutdown(): Promise<void>;
}

/**
 * A tracer exporting to `setting`'s URL, or undefined when `setting` is (traces off).
 *
 * @example
 * const tracing = await startTracing(loadConfig().traces.value, "valence");
 * engine.runOptions = { observer: tracing };
 */
export async function startTracing(setting: TraceSetting | undefined, serviceName: string): Promise<Tracing | undefined> {
  if (!setting) return undefined;
  const { OtlpTracer } = await import("./otlp-tracer.js");
  return new OtlpTracer(setting, serviceName);
}
