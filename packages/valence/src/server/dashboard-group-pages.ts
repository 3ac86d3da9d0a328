/** The table under a group: its query (sort, order, status filter, paging) and one page of its nodes. */
import { STATUSES, type Status } from "../status.js";
import { BadRequestError, NotFoundError } from "./http-errors.js";
import { BUCKET_OF_CODE, BUCKETS, STATUS_CODE, type Bucket, type GroupShape } from "./dashboard-groups.js";
import { finite, groupView, type GroupStats, type GroupsOptions } from "./dashboard-group-stats.js";

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

