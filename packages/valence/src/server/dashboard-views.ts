/**
 * How the dashboard shows what the store holds: a dispatch and its values in
 * a line or so, values pretty-printed for reading (cut past a size), errors
 * by name, message and stack, executor options with their secrets masked so
 * they never reach a browser.
 */
import { inspect } from "node:util";
import { decode } from "../codec/index.js";
import { formatValue } from "../sdk/format-value.js";
import type { DispatchRecord } from "../engine/store/records.js";

/** Pretty-printed values past this many characters are cut; the full text is a download. */
export const VALUE_PREVIEW_CHARS = 64 * 1024;
/** Keys whose values a browser must never see. `key` at the end catches apiKey, sshKey, key; not keyFile (a path). */
export const SECRET_KEY = /pass(word|phrase)?|secret|token|credential|private_?key|key$/i;

export function dispatchView(d: DispatchRecord) {
  return {
    id: d.id,
    parentId: d.parentId,
    name: d.name,
    status: d.status,
    createdAt: d.createdAt,
    startedAt: d.startedAt,
    endedAt: d.endedAt,
    nodeCount: d.nodeCount,
    nodesDone: d.nodesDone,
    entryFile: d.entryFile,
    resultsDir: d.resultsDir,
    inputs: shortValue(d.inputs),
    output: d.output === null ? null : shortValue(d.output),
    error: d.error === null ? null : errorView(d.error),
  };
}

/** An executor column (a name, or `{ plugin, state }`) as the panel shows it, secrets masked. */
export function executorOf(json: string | null): { name: string; options: unknown } {
  if (json === null) return { name: "", options: {} };
  try {
    const parsed = JSON.parse(json) as unknown;
    if (typeof parsed === "string") return { name: parsed, options: {} };
    if (parsed && typeof parsed === "object" && "plugin" in parsed) {
      const spec = parsed as { plugin: string; state?: unknown };
      return { name: String(spec.plugin), options: maskSecrets(spec.state ?? {}) };
    }
    return { name: "?", options: maskSecrets(parsed) };
  } catch {
    return { name: "?", options: {} };
  }
}

/** A copy of `value` with the values of secret-looking keys replaced, at any depth. */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined && v !== "" ? "********" : maskSecrets(v);
    return out;
  }
  return value;
}

export function edgeLabel(param: string): string {
  try {
    const p = JSON.parse(param) as { kind: string; index?: number; slot?: number; name?: string };
    if (p.kind === "arg") return `arg ${p.index}`;
    if (p.kind === "item") return `item ${p.slot}`;
    if (p.kind === "kwarg" || p.name) return String(p.name);
    return p.kind;
  } catch {
    return param;
  }
}

/** A value in a line or so (inputs, the dispatch's output). */
export function shortValue(encoded: string | null): string | null {
  if (encoded === null) return null;
  try {
    const s = formatValue(decode(encoded));
    return s.length > 500 ? `${s.slice(0, 499)}…` : s;
  } catch (error) {
    return `<cannot decode: ${(error as Error).message}>`;
  }
}

/** A value laid out for reading: strings as they are, everything else as Node prints it. */
export function prettyValue(encoded: string, maxItems = 1000): string {
  let value: unknown;
  try {
    value = decode(encoded);
  } catch (error) {
    return `<cannot decode: ${(error as Error).message}>`;
  }
  if (typeof value === "string") return value;
  return inspect(value, { depth: maxItems === Infinity ? Infinity : 8, breakLength: 100, maxArrayLength: maxItems, maxStringLength: maxItems === Infinity ? Infinity : 100_000, sorted: false });
}

export function preview(text: string): { text: string; truncated: boolean; size: number } {
  return text.length > VALUE_PREVIEW_CHARS
    ? { text: text.slice(0, VALUE_PREVIEW_CHARS), truncated: true, size: text.length }
    : { text, truncated: false, size: text.length };
}

export function errorView(encoded: string): { name: string; message: string; stack: string } {
  try {
    const e = decode(encoded) as Error;
    if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack ?? `${e.name}: ${e.message}` };
    return { name: "Error", message: formatValue(e), stack: formatValue(e) };
  } catch (error) {
    return { name: "Error", message: `<cannot decode the error: ${(error as Error).message}>`, stack: "" };
  }
}
