import { BaseExecutor } from "../../executor/base-executor.js";
import type { TaskFunction } from "../../executor/task.js";

/**
 * Runs each task in the dispatcher's own event loop: no process boundary, no
 * encoding, the fastest executor, and no isolation (a task that blocks or
 * exits takes the dispatcher with it).
 *
 * @example
 * const add = electron((x: number, y: number) => x + y, { executor: "inline" });
 */
export class InlineExecutor extends BaseExecutor {
  static override pluginName = "inline";

  /** Every inline task runs in the runner's event loop: one lane. */
  protected override get taskLane(): string {
    return "inline";
  }

  run(fn: TaskFunction, args: unknown[]): unknown {
    return (fn as (...a: unknown[]) => unknown)(...args);
  }
}
