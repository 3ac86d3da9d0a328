/**
 * Builds what a node receives from its parents' outputs: electron arguments,
 * an attribute or index of its source, or a collection with its holes filled.
 */
import type { EdgeParam, ValuePath } from "../../sdk/graph.js";
import { setAtPath } from "../../sdk/graph.js";

export interface InEdge {
  readonly source: number;
  readonly param: EdgeParam;
}

export function electronArgs(inEdges: readonly InEdge[], valueOf: (node: number) => unknown): unknown[] {
  const args: unknown[] = [];
  for (const e of inEdges) if (e.param.kind === "arg") args[e.param.index] = valueOf(e.source);
  return args;
}

export function sourceValue(inEdges: readonly InEdge[], valueOf: (node: number) => unknown): unknown {
  const e = inEdges.find((x) => x.param.kind === "source");
  return e ? valueOf(e.source) : undefined;
}

export function fillCollection(skeleton: unknown, holes: readonly ValuePath[], inEdges: readonly InEdge[], valueOf: (node: number) => unknown): unknown {
  const copy = structuredClone(skeleton);
  let out = copy;
  for (const e of inEdges) {
    if (e.param.kind !== "item") continue;
    out = setAtPath(out, holes[e.param.slot] as ValuePath, valueOf(e.source));
  }
  return out;
}

/** `value[key]` with a message that names the node when `value` has no such key. */
export function access(value: unknown, key: string | number, name: string): unknown {
  if (value === null || value === undefined) {
    throw new TypeError(`${name}: cannot read ${typeof key === "number" ? `[${key}]` : `.${key}`} of ${value}`);
  }
  if (value instanceof Map) return value.get(key);
  return (value as Record<string | number, unknown>)[key];
}
