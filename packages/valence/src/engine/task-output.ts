/**
 * A task's output as `valence logs DISPATCH NODE` and the node panel read it:
 * while the node runs, the live chunks stored so far (after the last one the
 * reader saw); once it has ended, its whole stdout and stderr. The same read
 * serves the embedded engine and the server's route.
 */
import { DispatchNotFoundError, NodeNotFoundError } from "../errors.js";
import type { DispatchId } from "../ids.js";
import type { Status } from "../status.js";
import type { Store } from "./store/store.js";
import type { OutputChunk } from "../executor/wire/output-file.js";

/** A chunk of a running task's output: the same shape as a line of its output file. */
export type TaskOutputChunk = OutputChunk;

export interface TaskOutput {
  readonly dispatchId: DispatchId;
  readonly node: number;
  /** NEW_OBJECT until the node's state is first stored (it has not started). */
  readonly status: Status;
  /** The node has ended: `stdout` and `stderr` are whole (as stored: cut at output_limit, marked). */
  readonly ended: boolean;
  /** While it runs: the chunks after `after`, in order. Empty once it has ended. */
  readonly chunks: readonly TaskOutputChunk[];
  /** Pass as `after` to get only newer chunks. */
  readonly next: number;
  readonly stdout: string | null;
  readonly stderr: string | null;
  /** The attempt the chunks and the output belong to (0 before the first): on a retry the output starts again. */
  readonly attempt: number;
  /** While a failed try waits out its retry backoff: when the next try is due (ms since the epoch). */
  readonly retryAt: number | null;
}

const ENDED: ReadonlySet<Status> = new Set<Status>(["COMPLETED", "FAILED", "CANCELLED"]);

export async function readTaskOutput(store: Store, id: DispatchId, node: number, after = 0): Promise<TaskOutput> {
  const d = await store.getDispatch(id);
  if (!d) throw new DispatchNotFoundError(id, store.dataDir);
  if (!Number.isInteger(node) || node < 0 || node >= d.nodeCount) {
    throw NodeNotFoundError.outside(id, d.nodeCount, [node]);
  }
  // Chunks first: a node that ends between the two reads is then seen ended, with its whole output.
  const chunks = await store.getLiveOutput(id, node, after);
  const logs = await store.getNodeLogs(id, node);
  const status = logs?.status ?? "NEW_OBJECT";
  const ended = ENDED.has(status);
  const last = chunks.at(-1);
  return {
    dispatchId: id,
    node,
    status,
    ended,
    chunks: ended ? [] : chunks.map((c) => ({ stream: c.stream, text: c.text })),
    next: last ? last.id : after,
    stdout: ended ? (logs?.stdout ?? "") : null,
    stderr: ended ? (logs?.stderr ?? "") : null,
    attempt: logs?.attempts ?? 0,
    retryAt: logs?.retryAt ?? null,
  };
}
