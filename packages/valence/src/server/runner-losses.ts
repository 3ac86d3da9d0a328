/**
 * What a dispatch runner's death costs its tasks: which running tasks fail
 * and which run again in the next runner, and when a dispatch whose runners
 * keep dying with nothing to blame is failed instead of started again. The
 * supervisor asks after each exit and carries out the answer (it publishes
 * the changes and starts the next runner); the counts live here.
 */
import { RunnerCrashedError, TaskTimeoutError } from "../errors.js";
import type { DispatchId } from "../ids.js";
import { encodeError } from "../engine/run/stored-error.js";
import type { Store } from "../engine/store/store.js";
import type { NodeRecord } from "../engine/store/records.js";
import { retriesOn } from "../engine/scheduler/backoff.js";
import type { RetryPolicy } from "../sdk/graph.js";

/** Crashes with no running task to blame before the dispatch is failed instead of started again. */
const MAX_BLAMELESS_CRASHES = 3;
/**
 * A runner killed from outside (SIGKILL: the OOM killer, an operator, a chaos
 * test; SIGTERM) is not its running tasks' doing: they run again in the next
 * runner, as Dask reschedules a dead worker's tasks, until a task has been
 * running in this many killed runners; then it fails. A runner that exits by
 * itself fails its running tasks at once (unless they have retries left).
 */
const ALLOWED_RUNNER_LOSSES = 3;
const FROM_OUTSIDE = new Set<NodeJS.Signals>(["SIGKILL", "SIGTERM"]);

/** Whether an exit by `signal` came from outside the runner (not its tasks' doing). */
export function killedFromOutside(signal: NodeJS.Signals | null): boolean {
  return signal !== null && FROM_OUTSIDE.has(signal);
}

/** A task that ran past its timeout while blocking its runner, so the supervisor stopped the runner. */
export interface LateTask {
  readonly dispatchId: DispatchId;
  readonly node: number;
  readonly timeoutMs: number;
}

/**
 * What to carry out, at `at`: publish the failed nodes of the top-level dispatch (already
 * stored), then, when it is given up on, store and publish its FAILED status with
 * `dispatchError` (encoded); else start a new runner for it.
 */
export interface LossOutcome {
  readonly at: number;
  readonly changes: Array<{ node: number; status: "FAILED" }>;
  readonly dispatchError: string | undefined;
}

/** Whether a task that failed with `error` is tried again: tries left, and an error its retry policy's `on` names. */
function retriesLeftFor(n: NodeRecord, error: Error): boolean {
  return n.attempts <= n.retries && retriesOn(n.retryPolicy === null ? undefined : (JSON.parse(n.retryPolicy) as RetryPolicy), error);
}

export class RunnerLosses {
  private readonly blameless = new Map<DispatchId, number>();
  /** `dispatch:node` → killed runners it was running in. */
  private readonly lost = new Map<string, number>();

  constructor(private readonly store: Store) {}

  /** The dispatch finished: its counts go. */
  forget(id: DispatchId): void {
    this.blameless.delete(id);
    for (const key of this.lost.keys()) if (key.startsWith(`${id}:`)) this.lost.delete(key);
  }

  /** Fails the tasks that blocked the runner past their timeout (or leaves them for retry); the others run again. */
  async afterTimeout(id: DispatchId, late: readonly LateTask[]): Promise<LossOutcome> {
    const now = Date.now();
    const changes: Array<{ node: number; status: "FAILED" }> = [];
    await this.store.transaction(async (tx) => {
      const nodesOf = new Map<DispatchId, Promise<NodeRecord[]>>();
      for (const t of late) {
        let nodes = nodesOf.get(t.dispatchId);
        if (!nodes) nodesOf.set(t.dispatchId, (nodes = tx.getNodes(t.dispatchId)));
        const n = (await nodes)[t.node];
        if (!n) continue;
        const error = new TaskTimeoutError(t.timeoutMs);
        error.message += `; it blocked its runner's event loop, so the runner was stopped`;
        if (retriesLeftFor(n, error)) continue;
        tx.nodeEnded(t.dispatchId, t.node, "FAILED", encodeError(error), undefined, now);
        tx.countDone(t.dispatchId, 1);
        if (t.dispatchId === id) changes.push({ node: t.node, status: "FAILED" });
      }
    });
    this.blameless.delete(id);
    return { at: now, changes, dispatchError: undefined };
  }

  /**
   * Fails (or leaves for retry) the tasks that were running in the dispatch and
   * its sublattices; after MAX_BLAMELESS_CRASHES exits in a row with none
   * running, fails the dispatch itself.
   */
  async afterCrash(id: DispatchId, how: string, logTail: string, fromOutside: boolean): Promise<LossOutcome> {
    const store = this.store;
    const now = Date.now();
    const detail = logTail ? `; its output ended with:\n${logTail}` : "";
    let blamed = 0;
    const changes: Array<{ node: number; status: "FAILED" }> = [];
    for (const d of [id, ...(await store.childDispatches(id)).map((c) => c.id)]) {
      await store.transaction(async (tx) => {
        const nodes = (await tx.getNodes(d)).filter((n) => n.status === "RUNNING");
        for (const n of nodes) {
          blamed++;
          const key = `${d}:${n.nodeId}`;
          const lost = fromOutside ? (this.lost.get(key) ?? 0) + 1 : 0;
          if (fromOutside) this.lost.set(key, lost);
          if (fromOutside && lost < ALLOWED_RUNNER_LOSSES) continue; // not its doing: the new runner runs it again
          const times = fromOutside ? ` (it was running in each of the ${lost} runners killed so far: it is not started again)` : "";
          const error = new RunnerCrashedError(`the dispatch runner ${how} while task "${n.name}(${n.nodeId})" ran${times}${detail}`);
          if (!fromOutside && retriesLeftFor(n, error)) continue; // the new runner runs it again
          tx.nodeEnded(d, n.nodeId, "FAILED", encodeError(error), undefined, now);
          tx.countDone(d, 1);
          if (d === id) changes.push({ node: n.nodeId, status: "FAILED" });
        }
      });
    }
    const crashes = blamed ? 0 : (this.blameless.get(id) ?? 0) + 1;
    this.blameless.set(id, crashes);
    if (crashes >= MAX_BLAMELESS_CRASHES) {
      const error = new RunnerCrashedError(`the dispatch runner ${how}, ${crashes} times in a row with no task running${detail}`);
      return { at: now, changes, dispatchError: encodeError(error) };
    }
    return { at: now, changes, dispatchError: undefined };
  }
}
