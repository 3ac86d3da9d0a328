/**
 * Tracing: running a lattice function once with handles in place of electron
 * outputs, recording the transport graph as it goes.
 */
import { TracingError } from "../errors.js";
import { asNodeId, type ElectronId, type NodeId } from "../ids.js";
import { formatShort } from "./format-value.js";
import { globalRegistry } from "./global-registry.js";
import type { CachePolicy, EdgeParam, ExecutorRef, GraphEdge, GraphNode, OutputTemplate, ValuePath } from "./graph.js";
import { handleInfo, makeHandle, type HandleInfo } from "./handle.js";
import type { RetryPolicy } from "./retry.js";

/** A lattice's `retry`, for its electrons that set neither `retries` nor `retry`. */
export interface DefaultRetry {
  readonly retries: number;
  readonly policy: RetryPolicy;
}

export interface CallSpec {
  readonly kind: "electron" | "sublattice";
  readonly name: string;
  readonly electronId: ElectronId;
  readonly executor: ExecutorRef | undefined;
  readonly retries: number | undefined;
  readonly retry?: RetryPolicy | undefined;
  readonly timeout: number | undefined;
  readonly cache?: CachePolicy | undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class Trace {
  readonly nodes: GraphNode[] = [];
  readonly edges: GraphEdge[] = [];

  /** `defaultExecutor`: the lattice's (or enclosing sublattice's) executor, inherited by its electrons. */
  constructor(
    readonly defaultExecutor: ExecutorRef | undefined,
    readonly defaultRetry?: DefaultRetry,
  ) {}

  private addNode(node: Omit<GraphNode, "id">): NodeId {
    const id = asNodeId(this.nodes.length);
    (node as Mutable<GraphNode>).id = id;
    this.nodes.push(node as GraphNode);
    return id;
  }

  private handleFor(nodeId: NodeId): unknown {
    const node = this.nodes[nodeId] as GraphNode;
    return makeHandle({ nodeId, trace: this, label: `"${node.name}(${nodeId})"` });
  }

  /** Records an electron or sublattice call with its arguments and returns its handle. */
  addCall(spec: CallSpec, args: readonly unknown[]): unknown {
    const node: Omit<GraphNode, "id"> = {
      kind: spec.kind,
      name: spec.name,
      electronId: spec.electronId,
      executor: spec.executor ?? this.defaultExecutor,
      ...(spec.retries !== undefined && { retries: spec.retries }),
      ...(spec.retry !== undefined && { retry: spec.retry }),
      ...(spec.kind === "electron" && spec.retries === undefined && this.defaultRetry && { retries: this.defaultRetry.retries, retry: this.defaultRetry.policy }),
      ...(spec.timeout !== undefined && { timeout: spec.timeout }),
      ...(spec.cache !== undefined && { cache: spec.cache }),
    };
    const id = this.addNode(node);
    args.forEach((arg, index) => this.connect(arg, id, { kind: "arg", index }));
    return this.handleFor(id);
  }

  /** Records `parent.key` / `parent[key]` and returns its handle. */
  addAccessor(parent: HandleInfo, key: string | number): unknown {
    const parentNode = this.nodes[parent.nodeId] as GraphNode;
    const name = typeof key === "number" ? `${parentNode.name}[${key}]` : `${parentNode.name}.${key}`;
    const id = this.addNode({ kind: typeof key === "number" ? "index" : "attribute", name, key });
    this.edges.push({ source: parent.nodeId, target: id, param: { kind: "source" } });
    return this.handleFor(id);
  }

  /** Ordering edges with no data: `child` starts after every parent completed. */
  addWait(child: unknown, parents: readonly unknown[]): void {
    const c = this.own(child, "wait(child, …)");
    if (!c) throw new TracingError("wait(child, parents): child must be the result of an electron call in this lattice");
    for (const [i, p] of parents.entries()) {
      const info = this.own(p, `wait(…, parents[${i}])`);
      if (!info) throw new TracingError(`wait(child, parents): parents[${i}] must be the result of an electron call`);
      this.edges.push({ source: info.nodeId, target: c.nodeId, param: { kind: "wait" } });
    }
  }

  /** The lattice's return value as a template over node outputs. */
  template(value: unknown): OutputTemplate {
    const holes: Array<{ path: ValuePath; nodeId: NodeId }> = [];
    const skeleton = this.strip(value, [], (path, info) => holes.push({ path, nodeId: info.nodeId }));
    return { value: skeleton, holes };
  }

  private own(x: unknown, where: string): HandleInfo | undefined {
    const info = handleInfo(x);
    if (info && info.trace !== this) {
      throw new TracingError(`${where}: this handle belongs to another lattice's trace; pass values between lattices as arguments`);
    }
    return info;
  }

  /** Connects one argument value to `target`: an edge from a handle, a collection, or a parameter node. */
  private connect(value: unknown, target: NodeId, param: EdgeParam): void {
    const info = this.own(value, `argument of "${(this.nodes[target] as GraphNode).name}"`);
    if (info) {
      this.edges.push({ source: info.nodeId, target, param });
      return;
    }
    if (containsHandle(value)) {
      const id = this.addNode({ kind: "collection", name: Array.isArray(value) ? ":collection:list" : ":collection:dict" });
      const holes: ValuePath[] = [];
      const skeleton = this.strip(value, [], (path, h) => {
        this.edges.push({ source: h.nodeId, target: id, param: { kind: "item", slot: holes.length } });
        holes.push(path);
      });
      Object.assign(this.nodes[id] as GraphNode, { value: skeleton, holes });
      this.edges.push({ source: id, target, param });
      return;
    }
    const id = this.addNode({ kind: "parameter", name: `:parameter:${formatShort(value)}`, value });
    this.edges.push({ source: id, target, param });
  }

  /** Copies arrays/plain objects along the way to handles, replacing each handle by null. */
  private strip(value: unknown, path: ValuePath, onHandle: (path: ValuePath, info: HandleInfo) => void): unknown {
    const info = this.own(value, "lattice value");
    if (info) {
      onHandle(path, info);
      return null;
    }
    if (!containsHandle(value)) return value;
    if (Array.isArray(value)) return value.map((v, i) => this.strip(v, [...path, i], onHandle));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as object)) out[k] = this.strip(v, [...path, k], onHandle);
    return out;
  }
}

function isPlainContainer(x: unknown): x is object {
  if (typeof x !== "object" || x === null) return false;
  if (Array.isArray(x)) return true;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Whether a handle sits anywhere inside arrays / plain objects in `x`. */
export function containsHandle(x: unknown, depth = 0): boolean {
  if (handleInfo(x)) return true;
  if (depth > 64 || !isPlainContainer(x)) return false;
  if (Array.isArray(x)) {
    for (const v of x) if (typeof v === "object" && v !== null && containsHandle(v, depth + 1)) return true;
    return false;
  }
  for (const v of Object.values(x)) if (typeof v === "object" && v !== null && containsHandle(v, depth + 1)) return true;
  return false;
}

export function currentTrace(): Trace | undefined {
  return globalRegistry().currentTrace as Trace | undefined;
}

/** Runs `fn` with `trace` as the current trace (tracing is synchronous, so no interleaving). */
export function withTrace<T>(trace: Trace, fn: () => T): T {
  const reg = globalRegistry();
  const previous = reg.currentTrace;
  reg.currentTrace = trace;
  try {
    return fn();
  } finally {
    reg.currentTrace = previous;
  }
}
