/**
 * Sublattices expanded in place: a sublattice node's own run (a sub-dispatch
 * with its own graph) drawn inside the parent's graph. Inner nodes get ids
 * after the parent's, in order, so node ids stay array indexes; `origin`
 * says which dispatch and node each id really is.
 */
import type { GraphEdge, GraphNode, GraphReply, Status } from "../api";

export interface Origin {
  readonly dispatchId: string;
  readonly nodeId: number;
}

export interface Combined {
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  readonly origin: readonly Origin[];
  /** Sublattice node id → the ids its run's nodes got. */
  readonly inner: ReadonlyMap<number, readonly number[]>;
}

/** Past this many new edges (sinks × dependents), dependents stay wired to the sublattice node itself. */
const MAX_REWIRED = 200;

export function combine(dispatchId: string, graph: GraphReply, subs: ReadonlyMap<number, GraphReply>): Combined {
  if (subs.size === 0) {
    return { nodes: graph.nodes, edges: graph.edges, origin: graph.nodes.map((n) => ({ dispatchId, nodeId: n.nodeId })), inner: new Map() };
  }
  const nodes: GraphNode[] = [...graph.nodes];
  const origin: Origin[] = graph.nodes.map((n) => ({ dispatchId, nodeId: n.nodeId }));
  let edges: GraphEdge[] = [...graph.edges];
  const inner = new Map<number, number[]>();
  for (const [subNode, sub] of [...subs].sort((a, b) => a[0] - b[0])) {
    if (!graph.nodes[subNode]) continue;
    const base = nodes.length;
    const ids: number[] = [];
    for (const n of sub.nodes) {
      ids.push(base + n.nodeId);
      nodes.push({ ...n, nodeId: base + n.nodeId, name: n.name, subDispatchId: n.subDispatchId });
      origin.push({ dispatchId: sub.dispatch.id, nodeId: n.nodeId });
    }
    inner.set(subNode, ids);
    const hasIn = new Set(sub.edges.map((e) => e.target));
    const hasOut = new Set(sub.edges.map((e) => e.source));
    const roots = sub.nodes.filter((n) => !hasIn.has(n.nodeId));
    const sinks = sub.nodes.filter((n) => !hasOut.has(n.nodeId));
    for (const e of sub.edges) edges.push({ source: base + e.source, target: base + e.target, label: e.label });
    for (const r of roots) edges.push({ source: subNode, target: base + r.nodeId, label: "runs" });
    // Dependents hang below the run, not beside it.
    const out = edges.filter((e) => e.source === subNode && e.label !== "runs");
    if (out.length * sinks.length <= MAX_REWIRED) {
      edges = edges.filter((e) => !(e.source === subNode && e.label !== "runs"));
      for (const e of out) for (const s of sinks) edges.push({ source: base + s.nodeId, target: e.target, label: e.label });
    }
  }
  return { nodes, edges, origin, inner };
}

/** Each expanded run's live statuses, under the ids its nodes have in the combined graph. */
export function combinedStatuses(
  own: ReadonlyMap<number, Status>,
  combined: Combined,
  subStatuses: ReadonlyMap<string, ReadonlyMap<number, Status>>,
): ReadonlyMap<number, Status> {
  if (combined.inner.size === 0) return own;
  const out = new Map(own);
  for (const ids of combined.inner.values()) {
    for (const id of ids) {
      const o = combined.origin[id];
      const s = o && subStatuses.get(o.dispatchId)?.get(o.nodeId);
      if (s) out.set(id, s);
    }
  }
  return out;
}
