/**
 * A dispatch's graph as stored: what each node is (kind, name, electron,
 * executor, …, and its state at submission) and the edges, each written once
 * as one JSON value. The graph never changes after submission, so it needs no
 * row per node: a wide dispatch writes two values instead of tens of
 * thousands of rows. What does change (status, output, times) lives in
 * `node_states` rows, written only for nodes whose state has moved on.
 *
 * Nodes are rows of [kind, name, status, output, electronId, executor,
 * retries, timeoutMs, key, holes, value, bundlePath, retryPolicy, cachePolicy]. kind, status,
 * electronId, executor, retryPolicy and cachePolicy are indexes into `strings`: a wide graph repeats a handful of them
 * thousands of times (an executor spec is ~40 characters). The other strings
 * are mostly unique, and interning them would cost more than it saves.
 * Trailing nulls are left out (retries 0 is written as null), so a
 * parameter is [kind, name, status, output].
 */
import { StoreError } from "../../errors.js";
import type { Status } from "../../status.js";
import type { EdgeRecord, NodeRecord } from "./records.js";

/** A node as submitted: the NodeRecord less the fields that only a run sets. */
export type SubmittedNode = Pick<
  NodeRecord,
  "nodeId" | "kind" | "name" | "electronId" | "status" | "executor" | "retries" | "retryPolicy" | "timeoutMs" | "key" | "holes" | "value" | "output" | "bundlePath" | "cachePolicy"
>;

interface StoredNodes {
  readonly strings: string[];
  readonly rows: Array<Array<string | number | null>>;
  /** Only when the ids are not 0, 1, 2, …: a node's id, by row. */
  readonly ids?: number[];
}

interface StoredEdges {
  readonly labels: string[];
  /** source, target, label index; three numbers per edge. */
  readonly edges: number[];
}

export function encodeNodes(nodes: readonly SubmittedNode[]): string {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const intern = (s: string) => {
    let i = index.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      index.set(s, i);
    }
    return i;
  };
  const str = (v: string | null) => (v === null ? null : intern(v));
  let dense = true;
  // Field by field, not a loop over field names: this runs for every node of a 100k-node graph.
  const rows = nodes.map((n, i) => {
    if (n.nodeId !== i) dense = false;
    const row = [str(n.kind), n.name, str(n.status), n.output, str(n.electronId), str(n.executor), n.retries || null, n.timeoutMs, n.key, n.holes, n.value, n.bundlePath, str(n.retryPolicy ?? null), str(n.cachePolicy ?? null)];
    while (row.length && row[row.length - 1] === null) row.pop();
    return row;
  });
  const stored: StoredNodes = dense ? { strings, rows } : { strings, rows, ids: nodes.map((n) => n.nodeId) };
  return JSON.stringify(stored);
}

export function decodeNodes(json: string): SubmittedNode[] {
  const { strings, rows, ids } = parse<StoredNodes>(json, "nodes");
  const str = (i: string | number | null | undefined) => (i === null || i === undefined ? null : (strings[i as number] as string));
  const raw = (v: string | number | null | undefined) => (v ?? null) as string | null;
  return rows.map((r, i) => ({
    nodeId: ids ? (ids[i] as number) : i,
    kind: str(r[0]) as string,
    name: r[1] as string,
    electronId: str(r[4]),
    status: str(r[2]) as Status,
    executor: str(r[5]),
    retries: (r[6] as number | null | undefined) ?? 0,
    timeoutMs: (r[7] as number | null | undefined) ?? null,
    key: raw(r[8]),
    holes: raw(r[9]),
    value: raw(r[10]),
    output: raw(r[3]),
    bundlePath: raw(r[11]),
    retryPolicy: str(r[12]),
    cachePolicy: str(r[13]),
  }));
}

export function encodeEdges(edges: readonly EdgeRecord[]): string {
  const labels: string[] = [];
  const index = new Map<string, number>();
  const flat: number[] = [];
  for (const e of edges) {
    let l = index.get(e.param);
    if (l === undefined) {
      l = labels.length;
      labels.push(e.param);
      index.set(e.param, l);
    }
    flat.push(e.source, e.target, l);
  }
  const stored: StoredEdges = { labels, edges: flat };
  return JSON.stringify(stored);
}

export function decodeEdges(json: string): EdgeRecord[] {
  const { labels, edges } = parse<StoredEdges>(json, "edges");
  const out: EdgeRecord[] = [];
  for (let i = 0; i < edges.length; i += 3) {
    out.push({ source: edges[i] as number, target: edges[i + 1] as number, param: labels[edges[i + 2] as number] as string });
  }
  return out;
}

function parse<T>(json: string, what: string): T {
  try {
    return JSON.parse(json) as T;
  } catch (error) {
    throw new StoreError(`the stored ${what} of a dispatch are damaged: ${(error as Error).message}`, { cause: error });
  }
}
