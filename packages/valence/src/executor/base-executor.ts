import { ExecutorDefinitionError } from "../errors.js";
import { abortError } from "./abort-error.js";
import { onAbort } from "./abort-watch.js";
import { callCaptured } from "./capture.js";
import { isThenable, toError } from "../values.js";
import { Executor } from "./executor.js";
import type { Task, TaskFunction, TaskMetadata, TaskOutcome } from "./task.js";

/** Named arguments handed to `run`; empty unless the electron was called with them. */
export type Kwargs = Record<string, unknown>;

/**
 * Runs `run` in this process with its stdout/stderr captured, and turns its
 * return or throw into an outcome. Shared by both user-facing base classes.
 * A synchronous result settles at once: no race with the abort signal, no
 * extra promises (10k trivial inline tasks should cost microseconds each).
 */
function executeRun(
  executor: { run: (fn: TaskFunction, args: unknown[], kwargs: Kwargs, meta: TaskMetadata) => unknown },
  task: Task,
  lane: string | undefined,
): Promise<TaskOutcome> {
  if (task.isAborted ? task.isAborted() : task.signal.aborted) {
    return Promise.resolve({ ok: false, error: abortError(task.signal), stdout: "", stderr: "" });
  }
  const call = callCaptured(() => executor.run(task.fn, [...task.args], { ...task.kwargs }, task.meta), task.live);
  // The lane in the literal itself, not added after: no second object per task (10k inline tasks).
  if (call.threw) {
    const error = toError(call.value);
    return Promise.resolve(lane === undefined ? { ok: false, error, ...call.output() } : { ok: false, error, ...call.output(), lane });
  }
  if (!isThenable(call.value)) {
    const value = call.value;
    return Promise.resolve(lane === undefined ? { ok: true, value, ...call.output() } : { ok: true, value, ...call.output(), lane });
  }
  return settleAsync(call.value, call.output, task.signal, lane);
}

/** The outcome with its lane when the executor names one; without the key otherwise (what an executor's users have always seen). */
function laned(outcome: TaskOutcome, lane: string | undefined): TaskOutcome {
  return lane === undefined ? outcome : { ...outcome, lane };
}

async function settleAsync(
  value: PromiseLike<unknown>,
  output: () => { stdout: string; stderr: string },
  signal: AbortSignal,
  lane: string | undefined,
): Promise<TaskOutcome> {
  let unwatch = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    unwatch = onAbort(signal, () => reject(abortError(signal)));
  });
  try {
    return laned({ ok: true, value: await Promise.race([value, aborted]), ...output() }, lane);
  } catch (error) {
    return laned({ ok: false, error: toError(error), ...output() }, lane);
  } finally {
    unwatch();
  }
}



function checkRun(executor: Executor & { run?: unknown }): void {
  if (typeof executor.run !== "function") {
    throw new ExecutorDefinitionError(
      `${executor.pluginName} has no run(fn, args, kwargs, taskMetadata) method: ` +
        `an executor that extends BaseExecutor or AsyncBaseExecutor must define it`,
    );
  }
}

/**
 * Base class for executors whose `run` returns the task's value (Covalent's
 * `BaseExecutor`). `run` runs in the dispatch's runner process; call
 * `fn(...args)` and return what it returns.
 *
 * @example
 * class TimingExecutor extends BaseExecutor {
 *   run(fn, args) { const t = process.cpuUsage(); const r = fn(...args); log(process.cpuUsage(t)); return r; }
 * }
 */
export abstract class BaseExecutor extends Executor {
  abstract run(fn: TaskFunction, args: unknown[], kwargs: Kwargs, taskMetadata: TaskMetadata): unknown;

  override validate(): void {
    checkRun(this);
  }

  /** The task's lane (TaskOutcome.lane): where this executor runs tasks; undefined: unknown. */
  protected get taskLane(): string | undefined {
    return undefined;
  }

  execute(task: Task): Promise<TaskOutcome> {
    return executeRun(this, task, this.taskLane);
  }
}

/**
 * Base class for executors whose `run` is `async` (Covalent's
 * `AsyncBaseExecutor`): for executors that wait on I/O, so other tasks keep
 * running meanwhile.
 */
export abstract class AsyncBaseExecutor extends Executor {
  abstract run(fn: TaskFunction, args: unknown[], kwargs: Kwargs, taskMetadata: TaskMetadata): Promise<unknown>;

  override validate(): void {
    checkRun(this);
  }

  /** The task's lane (TaskOutcome.lane): where this executor runs tasks; undefined: unknown. */
  protected get taskLane(): string | undefined {
    return undefined;
  }

  execute(task: Task): Promise<TaskOutcome> {
    return executeRun(this, task, this.taskLane);
  }
}
