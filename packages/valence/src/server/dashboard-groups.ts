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
 */
import type { DispatchRecord, EdgeRecord, NodeRecord } from "../engine/store/records.js";
import type { Store } from "../engine/store/store.js";
import { isTerminal, STATUSES, type Status } from "../status.js";
import { BadRequestError, NotFoundError } from "./http-errors.js";
import { executorOf } from "./dashboard-views.js";

/** The five colours a status is drawn in, in the order counts are given. */
export const BUCKETS = ["completed", "running", "failed", "pending", "cancelled"] as const;
export type Bucket = (typeof BUCKETS)[number];
const B_COMPLETED = 0;
const B_RUNNING = 1;
const B_FAILED = 2;
const B_PENDING = 3;
const B_CANCELLED = 4;

const STATUS_CODE = new Map<Status, number>(STATUSES.map((s, i) => [s, i]));
const BUCKET_OF_CODE = Uint8Array.from(STATUSES, (s) => bucketOf(s));

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

/** Statuses and times of every node at one moment, in arrays by node index, and what they add up to per group. */
export interface GroupStats {
  /** When they were read (ms since the epoch). */
  readonly at: number;
  /** Index into STATUSES. */
  readonly status: Uint8Array;
  /** NaN where unset. */
  readonly startedAt: Float64Array;
  readonly endedAt: Float64Array;
  readonly attempts: Int32Array;
  /** Counts by bucket: group g's are counts[g * 5 .. g * 5 + 5). */
  readonly counts: Int32Array;
  readonly spread: ReadonlyArray<Spread | null>;
  /** The earliest start and latest end in each group (NaN: none yet). */
  readonly firstStart: Float64Array;
  readonly lastEnd: Float64Array;
  /** Nodes in each group that took more than one attempt. */
  readonly retried: Int32Array;
}

/** Durations (ms) of a group's finished (completed or failed) nodes. */
export interface Spread {
  readonly finished: number;
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

export function computeStats(shape: GroupShape, nodes: ReadonlyArray<Pick<NodeRecord, "nodeId" | "status" | "startedAt" | "endedAt" | "attempts">>, at = Date.now()): GroupStats {
  const n = shape.nodeCount;
  if (nodes.length !== n) throw new Error(`the dispatch has ${nodes.length} nodes, its graph's shape ${n}`);
  const nGroups = shape.groups.length;
  const status = new Uint8Array(n);
  const startedAt = new Float64Array(n);
  const endedAt = new Float64Array(n);
  const attempts = new Int32Array(n);
  const counts = new Int32Array(nGroups * 5);
  const firstStart = new Float64Array(nGroups).fill(NaN);
  const lastEnd = new Float64Array(nGroups).fill(NaN);
  const retried = new Int32Array(nGroups);
  for (let i = 0; i < n; i++) {
    const r = nodes[i] as NodeRecord;
    const code = STATUS_CODE.get(r.status) ?? 0;
    status[i] = code;
    const s = r.startedAt ?? NaN;
    const e = r.endedAt ?? NaN;
    startedAt[i] = s;
    endedAt[i] = e;
    attempts[i] = r.attempts;
    const g = shape.groupOf[i]!;
    counts[g * 5 + BUCKET_OF_CODE[code]!]!++;
    if (s < firstStart[g]! || Number.isNaN(firstStart[g]!)) firstStart[g] = s;
    if (e > lastEnd[g]! || Number.isNaN(lastEnd[g]!)) lastEnd[g] = e;
    if (r.attempts > 1) retried[g]!++;
  }
  // The spread of durations: each group's finished nodes' durations, sorted in one scratch array.
  let largest = 0;
  for (const g of shape.groups) largest = Math.max(largest, g.size);
  const scratch = new Float64Array(largest);
  const spread: Array<Spread | null> = [];
  for (let g = 0; g < nGroups; g++) {
    let k = 0;
    for (let j = shape.memberStart[g]!; j < shape.memberStart[g + 1]!; j++) {
      const i = shape.members[j]!;
      const b = BUCKET_OF_CODE[status[i]!]!;
      if (b !== B_COMPLETED && b !== B_FAILED) continue;
      const d = endedAt[i]! - startedAt[i]!;
      if (Number.isFinite(d)) scratch[k++] = d;
    }
    if (k === 0) {
      spread.push(null);
      continue;
    }
    const sorted = scratch.subarray(0, k).sort();
    const median = k % 2 ? sorted[(k - 1) / 2]! : (sorted[k / 2 - 1]! + sorted[k / 2]!) / 2;
    spread.push({ finished: k, min: sorted[0]!, median, max: sorted[k - 1]! });
  }
  return { at, status, startedAt, endedAt, attempts, counts, spread, firstStart, lastEnd, retried };
}

export type Counts = Record<Bucket, number>;

function countsOf(stats: GroupStats, g: number): Counts {
  const c = stats.counts;
  const o = g * 5;
  return { completed: c[o]!, running: c[o + 1]!, failed: c[o + 2]!, pending: c[o + 3]!, cancelled: c[o + 4]! };
}

const finite = (x: number) => (Number.isNaN(x) ? null : x);

/** One group as the graph draws it. */
export function groupView(shape: GroupShape, stats: GroupStats, g: number) {
  const info = shape.groups[g] as GroupInfo;
  const counts = countsOf(stats, g);
  return {
    ...info,
    counts,
    durations: stats.spread[g] ?? null,
    startedAt: finite(stats.firstStart[g]!),
    // The group's end: its last node's, once none is left to run.
    endedAt: counts.pending + counts.running === 0 ? finite(stats.lastEnd[g]!) : null,
    retried: stats.retried[g]!,
  };
}

export interface GroupsOptions {
  /** Show parameter groups (hidden by default). */
  readonly parameters: boolean;
}

/** The grouped graph: every group (parameters only when asked) and the edges between those shown. */
export function groupsReply(shape: GroupShape, stats: GroupStats, opts: GroupsOptions) {
  const shown = shape.groups.filter((g) => opts.parameters || !g.parameter);
  const visible = new Uint8Array(shape.groups.length);
  for (const g of shown) visible[g.id] = 1;
  const total: Counts = { completed: 0, running: 0, failed: 0, pending: 0, cancelled: 0 };
  for (let g = 0; g < shape.groups.length; g++) {
    const c = countsOf(stats, g);
    for (const b of BUCKETS) total[b] += c[b];
  }
  const parameterGroups = shape.groups.filter((g) => g.parameter);
  return {
    nodeCount: shape.nodeCount,
    counts: total,
    parameters: {
      shown: opts.parameters,
      groups: parameterGroups.length,
      nodes: parameterGroups.reduce((a, g) => a + g.size, 0),
    },
    groups: shown.map((g) => groupView(shape, stats, g.id)),
    edges: shape.edges.filter((e) => visible[e.source] && visible[e.target]),
  };
}

export const SORTS = ["nodeId", "duration", "status", "attempts"] as const;
export type Sort = (typeof SORTS)[number];

export interface NodesQuery {
  readonly offset: number;
  readonly limit: number;
  readonly sort: Sort;
  readonly order: "asc" | "desc";
  /** Status codes (indexes into STATUSES) to keep; empty keeps all. */
  readonly statuses: ReadonlySet<number>;
}

/** Reads a table query: offset, limit (1-500), sort, order, status (statuses or colours, comma-separated). Throws 400s naming the bad value. */
export function parseNodesQuery(q: (name: string) => string | undefined): NodesQuery {
  const offset = intParam(q("offset"), "offset", 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = intParam(q("limit"), "limit", 50, 1, 500);
  const sortRaw = q("sort") || "nodeId";
  if (!(SORTS as readonly string[]).includes(sortRaw)) throw new BadRequestError(`sort: "${sortRaw}" is not a column to sort by (one of ${SORTS.join(", ")})`);
  const orderRaw = q("order") || "asc";
  if (orderRaw !== "asc" && orderRaw !== "desc") throw new BadRequestError(`order: "${orderRaw}" must be asc or desc`);
  const statuses = new Set<number>();
  for (const s of (q("status") ?? "").split(",").map((x) => x.trim()).filter(Boolean)) {
    const code = STATUS_CODE.get(s as Status);
    if (code !== undefined) statuses.add(code);
    else if ((BUCKETS as readonly string[]).includes(s)) STATUSES.forEach((st, i) => BUCKET_OF_CODE[i] === BUCKETS.indexOf(s as Bucket) && statuses.add(i));
    else throw new BadRequestError(`status: "${s}" is not a status (one of ${BUCKETS.join(", ")}, or ${STATUSES.join(", ")})`);
  }
  return { offset, limit, sort: sortRaw as Sort, order: orderRaw, statuses };
}

/** Reads the groups' query: `parameters` (true/false, 1/0, show/hide). */
export function parseGroupsQuery(q: (name: string) => string | undefined): GroupsOptions {
  const raw = q("parameters");
  if (raw === undefined || raw === "") return { parameters: false };
  if (["1", "true", "show", "yes"].includes(raw)) return { parameters: true };
  if (["0", "false", "hide", "no"].includes(raw)) return { parameters: false };
  throw new BadRequestError(`parameters: "${raw}" must be true or false (or 1/0, show/hide)`);
}

/** The group a path segment names, or a 400 / 404 saying what there is. */
export function groupOfParam(shape: GroupShape, raw: string, dispatchId: string): number {
  if (!/^\d+$/.test(raw)) throw new BadRequestError(`group: "${raw}" is not a group id (a whole number, as the groups reply gives)`);
  const g = Number(raw);
  if (g >= shape.groups.length) throw new NotFoundError(`dispatch ${dispatchId} has groups 0 to ${shape.groups.length - 1}; no group ${raw}`);
  return g;
}

/** A page of group `g`'s nodes: filtered by status, sorted (ties by node id), with the total that matched. */
export function groupNodesPage(shape: GroupShape, stats: GroupStats, g: number, q: NodesQuery) {
  const all = shape.members.subarray(shape.memberStart[g]!, shape.memberStart[g + 1]!);
  let picked: Int32Array = all;
  if (q.statuses.size) {
    const keep = new Int32Array(all.length);
    let k = 0;
    for (const i of all) if (q.statuses.has(stats.status[i]!)) keep[k++] = i;
    picked = keep.subarray(0, k);
  }
  const desc = q.order === "desc";
  const duration = (i: number) => stats.endedAt[i]! - stats.startedAt[i]!;
  let rows: ArrayLike<number>;
  if (q.sort === "nodeId") {
    // Members are in id order already.
    rows = desc ? picked.slice().reverse() : picked;
  } else {
    const sorted = Array.from(picked);
    const sign = desc ? -1 : 1;
    const cmp =
      q.sort === "duration"
        ? (a: number, b: number) => {
            const da = duration(a);
            const db = duration(b);
            // Nodes without a duration (not finished) come last either way.
            if (Number.isNaN(da) || Number.isNaN(db)) return Number.isNaN(da) === Number.isNaN(db) ? a - b : Number.isNaN(da) ? 1 : -1;
            return (da - db) * sign || a - b;
          }
        : q.sort === "status"
          ? (a: number, b: number) => (stats.status[a]! - stats.status[b]!) * sign || a - b
          : (a: number, b: number) => (stats.attempts[a]! - stats.attempts[b]!) * sign || a - b;
    sorted.sort(cmp);
    rows = sorted;
  }
  const out = [];
  const end = Math.min(rows.length, q.offset + q.limit);
  for (let j = q.offset; j < end; j++) {
    const i = rows[j] as number;
    const s = finite(stats.startedAt[i]!);
    const e = finite(stats.endedAt[i]!);
    out.push({
      nodeId: shape.nodeIds[i]!,
      status: STATUSES[stats.status[i]!] as Status,
      startedAt: s,
      endedAt: e,
      durationMs: s !== null && e !== null ? e - s : null,
      attempts: stats.attempts[i]!,
      executor: shape.executorNames[shape.executorOf[i]!] ?? "",
    });
  }
  return {
    group: groupView(shape, stats, g),
    total: picked.length,
    offset: q.offset,
    limit: q.limit,
    sort: q.sort,
    order: q.order,
    status: [...q.statuses].sort((a, b) => a - b).map((c) => STATUSES[c] as Status),
    nodes: out,
  };
}

function intParam(raw: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) throw new BadRequestError(`${name}: "${raw}" must be a whole number from ${min} to ${max}`);
  return n;
}

interface Entry {
  readonly nodeCount: number;
  shape: Promise<GroupShape>;
  stats?: { readonly promise: Promise<GroupStats>; readonly at: number; readonly final: boolean };
  /** How long the last read of the statuses took (ms). */
  readMs: number;
}

/**
 * Shapes and statuses of the dispatches the dashboard looks at, over a store. The shape is
 * computed once per dispatch; statuses are read again when older than STATS_FRESH_MS or twice
 * the last read's time (one read in flight at a time per dispatch, shared by every request:
 * 100,000 nodes take a few hundred ms to read), and kept once the dispatch has ended. The least recently used entries go past CACHE_MAX_NODES.
 */
export class GroupCache {
  private readonly entries = new Map<string, Entry>();
  private cachedNodes = 0;

  constructor(
    private readonly store: Store,
    private readonly maxNodes = CACHE_MAX_NODES,
    private readonly freshMs = STATS_FRESH_MS,
  ) {}

  /** The shape and current statuses of `d` (as read just before). */
  async get(d: DispatchRecord): Promise<{ shape: GroupShape; stats: GroupStats }> {
    let entry = this.entries.get(d.id);
    if (entry && entry.nodeCount !== d.nodeCount) {
      this.drop(d.id);
      entry = undefined;
    }
    const now = Date.now();
    let fresh: NodeRecord[] | undefined;
    if (!entry) {
      const created: Entry = {
        nodeCount: d.nodeCount,
        readMs: 0,
        shape: (async () => {
          const [nodes, edges] = await Promise.all([this.store.getNodes(d.id), this.store.getEdges(d.id)]);
          fresh = nodes;
          return computeShape(nodes, edges);
        })(),
      };
      entry = created;
      this.entries.set(d.id, created);
      this.cachedNodes += d.nodeCount;
      this.evict();
      // A failed read is not kept.
      created.shape.catch(() => this.entries.get(d.id) === created && this.drop(d.id));
    } else {
      // Most recently used last.
      this.entries.delete(d.id);
      this.entries.set(d.id, entry);
    }
    const shape = await entry.shape;
    if (fresh) entry.readMs = Date.now() - now;
    const final = isTerminal(d.status);
    const cached = entry.stats;
    // A dispatch that has ended is read again once (its last changes may be newer than a read made while it ran).
    // Fresh for twice as long as reading them took: however many look, reading stays under a third of the server's time.
    const freshFor = Math.max(this.freshMs, 2 * entry.readMs);
    if (cached && (cached.final || (!final && now - cached.at < freshFor))) return { shape, stats: await cached.promise };
    const e = entry;
    const promise = fresh
      ? Promise.resolve(computeStats(shape, fresh, now))
      : this.store.getNodes(d.id).then((nodes) => {
          const stats = computeStats(shape, nodes);
          e.readMs = Date.now() - now;
          return stats;
        });
    entry.stats = { promise, at: now, final };
    promise.catch(() => e.stats?.promise === promise && (e.stats = undefined));
    return { shape, stats: await promise };
  }

  private drop(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    this.cachedNodes -= e.nodeCount;
  }

  private evict(): void {
    for (const id of this.entries.keys()) {
      if (this.cachedNodes <= this.maxNodes || this.entries.size <= 1) break;
      this.drop(id);
    }
  }
}
