/**
 * One electron task as the dispatcher hands it to an executor: the `Task`
 * fields and its cancel switch in one object, made once per task (a wide
 * dispatch makes ten thousand of them in one turn).
 */
import type { Task, TaskFunction, TaskMetadata } from "../../executor/task.js";
import type { TaskSetup } from "../../executor/task-setup.js";
import type { LiveSink, OutputStream } from "../../executor/capture.js";
import type { ElectronId } from "../../ids.js";
import { LazyAbort } from "./lazy-abort.js";

const NO_KWARGS: Readonly<Record<string, unknown>> = Object.freeze({});

/** Takes a running node's output chunks (the dispatch's LiveOutput). */
export interface NodeOutputSink {
  append(node: number, stream: OutputStream, text: string): void;
}

export class RunningTask extends LazyAbort implements Task {
  readonly kwargs = NO_KWARGS;
  timer: NodeJS.Timeout | undefined;
  private liveSink: LiveSink | undefined;

  constructor(
    readonly node: number,
    readonly meta: TaskMetadata,
    readonly electronId: ElectronId,
    readonly electronName: string,
    readonly fn: TaskFunction,
    readonly args: readonly unknown[],
    readonly bundlePath: string | undefined,
    readonly setup: TaskSetup | undefined,
    private readonly outputSink?: NodeOutputSink,
  ) {
    super();
  }

  /** Made on first use: most tasks end before anything asks (10k per wide dispatch). */
  get live(): LiveSink | undefined {
    const sink = this.outputSink;
    if (!sink) return undefined;
    return (this.liveSink ??= (stream, text) => sink.append(this.node, stream, text));
  }

  isAborted(): boolean {
    return this.aborted;
  }

  watchAbort(onAbort: () => void): () => void {
    return this.watch(onAbort);
  }
}
