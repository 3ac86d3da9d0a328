/**
 * One electron task as the dispatcher hands it to an executor: the `Task`
 * fields and its cancel switch in one object, made once per task (a wide
 * dispatch makes ten thousand of them in one turn).
 */
import type { Task, TaskFunction, TaskMetadata } from "../../executor/task.js";
import type { TaskSetup } from "../../executor/task-setup.js";
import type { ElectronId } from "../../ids.js";
import { LazyAbort } from "./lazy-abort.js";

const NO_KWARGS: Readonly<Record<string, unknown>> = Object.freeze({});

export class RunningTask extends LazyAbort implements Task {
  readonly kwargs = NO_KWARGS;
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly node: number,
    readonly meta: TaskMetadata,
    readonly electronId: ElectronId,
    readonly electronName: string,
    readonly fn: TaskFunction,
    readonly args: readonly unknown[],
    readonly bundlePath: string | undefined,
    readonly setup: TaskSetup | undefined,
  ) {
    super();
  }

  isAborted(): boolean {
    return this.aborted;
  }

  watchAbort(onAbort: () => void): () => void {
    return this.watch(onAbort);
  }
}
