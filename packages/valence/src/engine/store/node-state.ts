/**
 * A node as the store gives it back: the node as submitted (fixed at submission, kept in the
 * graph), with its state row over it once it has moved on. Both drivers build records here,
 * so they give back the same record for the same rows.
 */
import type { SubmittedNode } from "./graph-codec.js";
import type { NodeRecord } from "./records.js";
import type { CompletedNode } from "./store.js";

/** A node's row in `node_states`: its state once it has moved on from the one it was submitted in. */
export type NodeState = Pick<NodeRecord, "nodeId" | "status" | "output" | "outputFile" | "stdout" | "stderr" | "error" | "startedAt" | "endedAt" | "lane" | "retryAt"> & {
  readonly attempts: number | null;
  /** JSON of the record's `cachedFrom`. */
  readonly cachedFrom: string | null;
};

/**
 * A node as it is now: the submitted one, or its state row over it (the output stays the
 * submitted one until it has its own). Written field by field, not by spreading: one object
 * shape for every node, which is several times faster on 10k-node graphs.
 */
export function withState(n: SubmittedNode, s: NodeState | undefined): NodeRecord {
  const ownOutput = s !== undefined && (s.output !== null || s.outputFile !== null);
  return {
    nodeId: n.nodeId,
    kind: n.kind,
    name: n.name,
    electronId: n.electronId,
    status: s ? s.status : n.status,
    executor: n.executor,
    retries: n.retries,
    retryPolicy: n.retryPolicy,
    timeoutMs: n.timeoutMs,
    key: n.key,
    holes: n.holes,
    value: n.value,
    output: ownOutput ? (s as NodeState).output : n.output,
    outputFile: s ? s.outputFile : null,
    stdout: s ? s.stdout : null,
    stderr: s ? s.stderr : null,
    error: s ? s.error : null,
    attempts: s ? (s.attempts ?? 0) : 0,
    retryAt: s ? s.retryAt : null,
    startedAt: s ? s.startedAt : null,
    endedAt: s ? s.endedAt : null,
    lane: s ? s.lane : null,
    bundlePath: n.bundlePath,
    cachePolicy: n.cachePolicy,
    cachedFrom: s && s.cachedFrom !== null ? (JSON.parse(s.cachedFrom) as NodeRecord["cachedFrom"]) : null,
  };
}

/** `cached_from` as a driver writes it (withState reads it back): where a cache hit's output was made, or null. */
export function cachedFromColumn(c: Pick<CompletedNode, "cachedFrom">): string | null {
  return c.cachedFrom ? JSON.stringify({ dispatchId: c.cachedFrom.dispatchId, nodeId: c.cachedFrom.nodeId }) : null;
}
