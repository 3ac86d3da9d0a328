/**
 * The transport graph: what tracing a lattice produces, as plain data.
 * Node ids are dense integers in creation order, numbered as Covalent does
 * (an electron call is a node; every raw value passed to an electron becomes
 * its own `:parameter:VALUE` node).
 */
import type { ElectronId, NodeId } from "../ids.js";
import type { Executor } from "../executor/executor.js";

export type NodeKind = "electron" | "parameter" | "attribute" | "index" | "collection" | "sublattice";

/** An executor as written on an electron or lattice: an instance, or a name the registry resolves. */
export type ExecutorRef = Executor | string;

/** A path into a value: object keys and array indexes. */
export type ValuePath = ReadonlyArray<string | number>;

export interface GraphNode {
  readonly id: NodeId;
  readonly kind: NodeKind;
  /** Display name: `add`, `:parameter:3`, `add.x`, `add[0]`, `:collection:`, `:sublattice:inner`. */
  readonly name: string;
  /** Electron id (electron) or lattice id (sublattice). */
  readonly electronId?: ElectronId;
  /** Executor the node runs on; undefined means the engine's default. */
  readonly executor?: ExecutorRef;
  readonly retries?: number;
  /** Backoff between tries and which errors retry (`retries` says how many). */
  readonly retry?: RetryPolicy;
  /** Milliseconds. */
  readonly timeout?: number;
  /** Results reused across dispatches (sdk/cache.ts). */
  readonly cache?: CachePolicy;
  /** Parameter: its value. Collection: the value with each handle replaced by `null`. */
  readonly value?: unknown;
  /** Collection: where each incoming `item` edge's value goes, by slot. */
  readonly holes?: readonly ValuePath[];
  /** Attribute name or index. */
  readonly key?: string | number;
}

/** One entry of `on`, as stored: an error name, or a pattern on "Name: message". */
export type RetryMatcher = { readonly name: string } | { readonly pattern: string; readonly flags: string };

/** A retry policy as it travels with the graph. The number of retries is the node's `retries`. */
export interface RetryPolicy {
  readonly initial: number;
  readonly factor: number;
  readonly maxDelay: number;
  readonly jitter: boolean;
  /** Absent: every error is retried. */
  readonly on?: readonly RetryMatcher[];
}

/** An electron's `cache`, as it travels with the graph: the code part of its key and how long a result lasts. */
export interface CachePolicy {
  /** sha256 of the function's text and its set-up. */
  readonly code: string;
  /** Milliseconds a stored result may be reused for; null: until cleared. */
  readonly ttl: number | null;
  readonly version?: string;
}

export type EdgeParam =
  | { readonly kind: "arg"; readonly index: number }
  | { readonly kind: "item"; readonly slot: number }
  | { readonly kind: "source" }
  | { readonly kind: "wait" };

export interface GraphEdge {
  readonly source: NodeId;
  readonly target: NodeId;
  readonly param: EdgeParam;
}

/** The lattice's return value, with handles replaced by the nodes whose outputs fill them. */
export interface OutputTemplate {
  readonly value: unknown;
  readonly holes: ReadonlyArray<{ readonly path: ValuePath; readonly nodeId: NodeId }>;
}

export interface TransportGraph {
  readonly latticeName: string;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  readonly output: OutputTemplate;
}

/** Puts `value` at `path` inside `target` (which already has the path's containers). */
export function setAtPath(target: unknown, path: ValuePath, value: unknown): unknown {
  if (path.length === 0) return value;
  let cur = target as Record<string | number, unknown>;
  for (let i = 0; i < path.length - 1; i++) cur = cur[path[i] as string | number] as Record<string | number, unknown>;
  cur[path[path.length - 1] as string | number] = value;
  return target;
}
