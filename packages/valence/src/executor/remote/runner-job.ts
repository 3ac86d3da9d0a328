/**
 * A task run by a persistent runner, seen through the remote lifecycle's
 * steps (pollTask, waitForChange, queryResult): the same for every
 * executor that feeds a `RunnerPool`.
 */
import type { RemoteResult, RemoteStatus } from "./remote-executor.js";
import type { PooledTask, RunnerPool } from "./runner-pool.js";
import type { RunnerOutcome } from "./runner-session.js";
import type { LiveSink } from "../capture.js";

export interface RunnerJob {
  readonly task: PooledTask;
  /** Set once the task's outcome arrived. */
  outcome?: RunnerOutcome;
  /** Resolves when it did (never rejects). */
  readonly ended: Promise<void>;
}

/** `live`: the task's output while it runs (TaskPackage.live), from the runner's output lines. */
export function submitToRunner(pool: RunnerPool, bundle: string, taskJson: string, kind = bundle, live?: LiveSink): RunnerJob {
  const task = pool.submit(bundle, taskJson, kind, live);
  const job: { task: PooledTask; outcome?: RunnerOutcome; ended: Promise<void> } = { task, ended: Promise.resolve() };
  job.ended = task.outcome.then((outcome) => {
    job.outcome = outcome;
  });
  return job;
}

/** `where` names the place for the error of a task whose runner went down ("on gpu1"). */
export function runnerJobStatus(job: RunnerJob, where: string): RemoteStatus {
  const outcome = job.outcome;
  if (!outcome) return { state: job.task.started ? "running" : "pending" };
  if (outcome.kind === "result") return { state: "done" };
  return { state: "failed", reason: `${outcome.reason} ${where}` };
}

export function runnerJobResult(job: RunnerJob): RemoteResult {
  const outcome = job.outcome;
  if (outcome?.kind === "result") return { resultJson: outcome.resultJson };
  return { resultJson: undefined, stderrTail: outcome?.stderrTail ?? "", exitCode: outcome?.exit.code ?? null };
}
