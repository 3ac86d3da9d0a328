/** Statuses and times of a grouped dispatch at one moment, and the grouped graph the page draws from them. */
import type { NodeRecord } from "../engine/store/records.js";
import { B_COMPLETED, B_FAILED, BUCKET_OF_CODE, BUCKETS, STATUS_CODE, type Bucket, type GroupInfo, type GroupShape } from "./dashboard-groups.js";

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

export const finite = (x: number) => (Number.isNaN(x) ? null : x);

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

