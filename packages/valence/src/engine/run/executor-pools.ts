/**
 * The scheduler's concurrency pools of a dispatch: one per executor
 * instance, limited by the executor's `maxConcurrency`. Built the same way
 * when a dispatch is submitted and when it is read back to resume.
 */
import type { Executor } from "../../executor/executor.js";

export class ExecutorPools {
  private readonly keys = new Map<Executor, string>();
  /** Limit per pool key, for pools whose executor has one. */
  readonly limits: Record<string, number> = {};

  /** The pool key of `executor` (`local#0`), made on first sight. */
  keyOf(executor: Executor): string {
    let key = this.keys.get(executor);
    if (!key) {
      key = `${executor.pluginName}#${this.keys.size}`;
      this.keys.set(executor, key);
      if (Number.isFinite(executor.maxConcurrency)) this.limits[key] = executor.maxConcurrency;
    }
    return key;
  }

  /** Each distinct executor, in order of first sight. */
  executors(): Executor[] {
    return [...this.keys.keys()];
  }
}
