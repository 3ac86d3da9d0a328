import { ExecutorDefinitionError, TaskCancelledError } from "../errors.js";
import { runCaptured } from "./capture.js";
import { Executor } from "./executor.js";
import type { Task, TaskFunction, TaskMetadata, TaskOutcome } from "./task.js";

/** Named arguments handed to `run`; empty unless the electron was called with them. */
export type Kwargs = Record<string, unknown>;

/**
 * Runs `run` in this process with its stdout/stderr captured, and turns its
 * return or throw into an outcome. Shared by both user-facing base classes.
 */
async function executeRun(
  executor: { run: (fn: TaskFunction, args: unknown[], kwargs: Kwargs, meta: TaskMetadata) => unknown },
  task: Task,
): Promise<TaskOutcome> {
  if (task.signal.aborted) {
    return { ok: false, error: new TaskCancelledError("task cancelled before it started"), stdout: "", stderr: "" };
  }
  const captured = runCaptured(() => executor.run(task.fn, [...task.args], { ...task.kwargs }, task.meta));
  const aborted = new Promise<never>((_, reject) => {
    task.signal.addEventListener("abort", () => reject(task.signal.reason), { once: true });
  });
  try {
    const value = await Promise.race([captured.result, aborted]);
    return { ok: true, value, ...captured.output() };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error : new Error(String(error)), ...captured.output() };
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

  execute(task: Task): Promise<TaskOutcome> {
    return executeRun(this, task);
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

  execute(task: Task): Promise<TaskOutcome> {
    return executeRun(this, task);
  }
}
