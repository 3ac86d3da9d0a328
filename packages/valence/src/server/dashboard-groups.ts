/**
 * The dashboard's grouped view of a large dispatch: repeated electrons in
 * the same position of the graph merged into one group (`inc × 5,000`) with
 * counts by status, the spread of their durations and their executors, and
 * the edges between groups; and a page of one group's nodes, sorted and
 * filtered, for the table under a group.
 *
 * The grouping rule. Every node has a *key*: its base (an electron's id and
 * name; a sublattice's; an attribute, index or collection node's kind and
 * name; the one word "parameter" for every parameter) and the distinct,
 * sorted groups of its parents. Nodes with equal keys form a group. Keys are
 * computed parents first (a topological order: a traced electron gets its id
 * before the parameters made for its arguments, so id order is not enough),
 * so `inc(i)` for 5,000 values of `i` is one group, `inc(inc(i))` two (the
 * outer one's parent is the inner group), and the layers of a map-reduce
 * chain one group each. Parameters all share one key, so their values never
 * split their consumers; they are *shown* grouped by the group of their
 * first consumer ("parameters × 5,000" above `inc × 5,000`).
 *
 * The graph's shape never changes after submission, only statuses do: the
 * shape (which group each node is in, the groups' members, the edges between
 * groups) is computed once per dispatch in one pass over its nodes and edges
 * and cached; statuses and times are read again on each request (shared by
 * requests within STATS_FRESH_MS, kept for good once the dispatch is over).
 *
 * This module is the shape; dashboard-group-stats.ts the counts and the graph
 * the page draws, dashboard-group-pages.ts a group's table, and
 * dashboard-group-cache.ts the cache over the store.
 */
import type { EdgeRecord, NodeRecord } from "../engine/store/records.js";
import { STATUSES, type Status } from "../status.js";
import { executorOf } from "./dashboard-views.js";

/** The five colours a status is drawn in, in the order counts are given. */
export const BUCKETS = ["completed", "running", "failed", "pending", "cancelled"] as const;
export type Bucket = (typeof BUCKETS)[number];
export const B_COMPLETED = 0;
export const B_RUNNING = 1;
export const B_FAILED = 2;
export const B_PENDING = 3;
export const B_CANCELLED = 4;

export const STATUS_CODE = new Map<Status, number>(STATUSES.map((s, i) => [s, i]));
export const BUCKET_OF_CODE = Uint8Array.from(STATUSES, (s) => bucketOf(s));

export function bucketOf(s: Status): number {
  switch (s) {
    case "COMPLETED":
      return B_COMPLETED;
    case "STARTING":
    case "RUNNING":
    case "POSTPROCESSING":
      return B_RUNNING;
    case "FAILED":
      return B_FAILED;
    case "CANCELLED":
      return B_CANCELLED;
    default:
      return B_PENDING;
  }
}

/** Dispatches of at most this many nodes are always drawn node by node. */
export const SMALL_GRAPH_NODES = 50;
/** Statuses read for one request serve others that come within this time (ms). */
export const STATS_FRESH_MS = 100;
/** Nodes (over all dispatches) whose shapes and statuses the cache keeps. */
export const CACHE_MAX_NODES = 1_000_000;

export interface GroupInfo {
  readonly id: number;
  readonly name: string;
  readonly kind: string;
  readonly electronId: string | null;
  readonly parameter: boolean;
  readonly size: number;
  /** The node id of the group's first node (the node itself for a group of one). */
  readonly firstNode: number;
  readonly executors: readonly string[];
}

export interface GroupShape {
  readonly nodeCount: number;
  /** Node index (position in id order) → its group. */
  readonly groupOf: Int32Array;
  readonly groups: readonly GroupInfo[];
  /** The members of group g are members[memberStart[g] .. memberStart[g + 1]), node indexes in id order. */
  readonly memberStart: Int32Array;
  readonly members: Int32Array;
  /** Edges between groups (source group, target group, how many node edges). */
  readonly edges: ReadonlyArray<{ readonly source: number; readonly target: number; readonly count: number }>;
  /** Node index → node id (ids are usually the indexes themselves). */
  readonly nodeIds: Int32Array;
  /** Node index → index into executorNames. */
  readonly executorOf: Int32Array;
  readonly executorNames: readonly string[];
  /** Some group other than parameters has more than one node: worth drawing grouped. */
  readonly repeating: boolean;
}

/** The kind-and-name part of a node's key: what makes two nodes "the same electron". */
function baseKey(n: Pick<NodeRecord, "kind" | "name" | "electronId">): string {
  switch (n.kind) {
    case "parameter":
      return "parameter";
    case "electron":
    case "sublattice":
      return `${n.kind}\u0000${n.electronId ?? ""}\u0000${n.name}`;
    default:
      return `${n.kind}\u0000${n.name}`;
  }
}

/**
 * Groups a dispatch's nodes (in id order, as the store gives them) by the rule above.
 * One pass to index the edges, one over the nodes in topological order, one to number the
 * groups by their first node; no per-node objects beyond each node's key string.
 */
export function computeShape(
  nodes: ReadonlyArray<Pick<NodeRecord, "nodeId" | "kind" | "name" | "electronId" | "executor">>,
  edges: ReadonlyArray<Pick<EdgeRecord, "source" | "target">>,
): GroupShape {
  const n = nodes.length;
  const nodeIds = new Int32Array(n);
  let dense = true;
  for (let i = 0; i < n; i++) {
    const id = (nodes[i] as NodeRecord).nodeId;
    nodeIds[i] = id;
    if (id !== i) dense = false;
  }
  let indexOf: Map<number, number> | undefined;
  if (!dense) {
    indexOf = new Map();
    for (let i = 0; i < n; i++) indexOf.set(nodeIds[i] as number, i);
  }
  const idx = (id: number): number => (dense ? (id >= 0 && id < n ? id : -1) : (indexOf?.get(id) ?? -1));

  // Edges as index pairs, and both directions in compressed rows.
  const m = edges.length;
  const src = new Int32Array(m);
  const dst = new Int32Array(m);
  const inCount = new Int32Array(n + 1);
  const outCount = new Int32Array(n + 1);
  for (let k = 0; k < m; k++) {
    const e = edges[k] as EdgeRecord;
    const s = idx(e.source);
    const t = idx(e.target);
    src[k] = s;
    dst[k] = t;
    if (s < 0 || t < 0 || s === t) continue;
    inCount[t + 1]!++;
    outCount[s + 1]!++;
  }
  for (let i = 0; i < n; i++) {
    inCount[i + 1]! += inCount[i]!;
    outCount[i + 1]! += outCount[i]!;
  }
  const inStart = inCount; // prefix sums: node i's parents are parents[inStart[i] .. inStart[i+1])
  const outStart = outCount;
  const parents = new Int32Array(inStart[n]!);
  const children = new Int32Array(outStart[n]!);
  const inFill = inStart.slice(0, n);
  const outFill = outStart.slice(0, n);
  for (let k = 0; k < m; k++) {
    const s = src[k]!;
    const t = dst[k]!;
    if (s < 0 || t < 0 || s === t) continue;
    parents[inFill[t]!++] = s;
    children[outFill[s]!++] = t;
  }

  // Topological order (Kahn), taking ready nodes in id order; nodes on a cycle (never in a
  // valid dispatch) follow in id order.
  const order = new Int32Array(n);
  const waiting = new Int32Array(n);
  let head = 0;
  let tail = 0;
  for (let i = 0; i < n; i++) {
    waiting[i] = inStart[i + 1]! - inStart[i]!;
    if (waiting[i] === 0) order[tail++] = i;
  }
  while (head < tail) {
    const i = order[head++]!;
    for (let k = outStart[i]!; k < outStart[i + 1]!; k++) {
      const c = children[k]!;
      if (--waiting[c]! === 0) order[tail++] = c;
    }
  }
  if (tail < n) for (let i = 0; i < n; i++) if (waiting[i]! > 0) order[tail++] = i;

  // Keys, parents first. A key's number is its first appearance.
  const keyOf = new Int32Array(n).fill(-1);
  const keys = new Map<string, number>();
  const bases = new Map<string, number>();
  let scratch = new Int32Array(16);
  for (let o = 0; o < n; o++) {
    const i = order[o]!;
    const node = nodes[i] as NodeRecord;
    const b = baseKey(node);
    let base = bases.get(b);
    if (base === undefined) bases.set(b, (base = bases.size));
    const p0 = inStart[i]!;
    const np = inStart[i + 1]! - p0;
    let key: string;
    if (np === 0 || node.kind === "parameter") key = String(base);
    else if (np === 1) key = `${base}|${keyOf[parents[p0]!]}`;
    else {
      if (scratch.length < np) scratch = new Int32Array(np * 2);
      for (let k = 0; k < np; k++) scratch[k] = keyOf[parents[p0 + k]!]!;
      const sorted = scratch.subarray(0, np).sort();
      let s = `${base}|${sorted[0]}`;
      for (let k = 1; k < np; k++) if (sorted[k] !== sorted[k - 1]) s += `,${sorted[k]}`;
      key = s;
    }
    let g = keys.get(key);
    if (g === undefined) keys.set(key, (g = keys.size));
    keyOf[i] = g;
  }

  // Groups, numbered by their first node. Parameters go by the key of their first consumer.
  const nKeys = keys.size;
  const groupOfKey = new Int32Array(nKeys).fill(-1);
  const groupOfParamSlot = new Int32Array(nKeys + 1).fill(-1);
  const groupOf = new Int32Array(n);
  const firsts: number[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) {
    let g: number;
    if ((nodes[i] as NodeRecord).kind === "parameter") {
      let first = -1;
      for (let k = outStart[i]!; k < outStart[i + 1]!; k++) if (first < 0 || children[k]! < first) first = children[k]!;
      const slot = first < 0 ? 0 : keyOf[first]! + 1;
      g = groupOfParamSlot[slot]!;
      if (g < 0) {
        g = groupOfParamSlot[slot] = firsts.length;
        firsts.push(i);
        sizes.push(0);
      }
    } else {
      const key = keyOf[i]!;
      g = groupOfKey[key]!;
      if (g < 0) {
        g = groupOfKey[key] = firsts.length;
        firsts.push(i);
        sizes.push(0);
      }
    }
    groupOf[i] = g;
    sizes[g]!++;
  }

  const nGroups = firsts.length;
  const memberStart = new Int32Array(nGroups + 1);
  for (let g = 0; g < nGroups; g++) memberStart[g + 1] = memberStart[g]! + sizes[g]!;
  const members = new Int32Array(n);
  const fill = memberStart.slice(0, nGroups);
  for (let i = 0; i < n; i++) members[fill[groupOf[i]!]!++] = i;

  // Executors: parsed once per distinct value, gathered per group.
  const executorIndex = new Map<string | null, number>();
  const executorNames: string[] = [];
  const executorOfNode = new Int32Array(n);
  const lastExecutor = new Int32Array(nGroups).fill(-1);
  const groupExecutors: Array<Set<number>> = Array.from({ length: nGroups }, () => new Set());
  for (let i = 0; i < n; i++) {
    const raw = (nodes[i] as NodeRecord).executor;
    let e = executorIndex.get(raw);
    if (e === undefined) {
      executorIndex.set(raw, (e = executorNames.length));
      executorNames.push(executorOf(raw).name);
    }
    executorOfNode[i] = e;
    const g = groupOf[i]!;
    if (lastExecutor[g] !== e) {
      lastExecutor[g] = e;
      groupExecutors[g]!.add(e);
    }
  }

  let repeating = false;
  const groups: GroupInfo[] = firsts.map((first, g) => {
    const node = nodes[first] as NodeRecord;
    const parameter = node.kind === "parameter";
    if (!parameter && (sizes[g] as number) > 1) repeating = true;
    const names = [...new Set([...(groupExecutors[g] as Set<number>)].map((e) => executorNames[e] as string).filter(Boolean))].sort();
    return {
      id: g,
      name: parameter ? "parameters" : node.name,
      kind: node.kind,
      electronId: node.electronId,
      parameter,
      size: sizes[g] as number,
      firstNode: nodeIds[first] as number,
      executors: names,
    };
  });

  // Edges between groups, with how many node edges each stands for, in order of first appearance.
  const edgeIndex = new Map<number, number>();
  const groupEdges: Array<{ source: number; target: number; count: number }> = [];
  for (let k = 0; k < m; k++) {
    const s = src[k]!;
    const t = dst[k]!;
    if (s < 0 || t < 0) continue;
    const gs = groupOf[s]!;
    const gt = groupOf[t]!;
    if (gs === gt) continue;
    const code = gs * nGroups + gt;
    const at = edgeIndex.get(code);
    if (at === undefined) {
      edgeIndex.set(code, groupEdges.length);
      groupEdges.push({ source: gs, target: gt, count: 1 });
    } else (groupEdges[at] as { count: number }).count++;
  }

  return { nodeCount: n, groupOf, groups, memberStart, members, edges: groupEdges, nodeIds, executorOf: executorOfNode, executorNames, repeating };
}

