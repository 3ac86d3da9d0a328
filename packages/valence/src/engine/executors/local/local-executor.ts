/**
 * The default executor: each task runs in a pool of worker processes on this
 * machine, loaded from the dispatch's code bundle.
 */
import { availableParallelism } from "node:os";
import { encode } from "../../../codec/index.js";
import { ExecutorDefinitionError } from "../../../errors.js";
import { abortError } from "../../../executor/abort-error.js";
import { onAbort } from "../../../executor/abort-watch.js";
import { EncodedOutcome } from "../../../executor/encoded-outcome.js";
import { Executor, type ExecutorOptions } from "../../../executor/executor.js";
import type { Task, TaskOutcome } from "../../../executor/task.js";
import { NoBundleError } from "../../../executor/no-bundle-error.js";
import { WorkerPool } from "./pool.js";

export interface LocalExecutorOptions extends ExecutorOptions {
  /** Worker processes; default `os.availableParallelism()`. */
  readonly workers?: number;
}

/**
 * One pool per worker count per process: every LocalExecutor of a dispatch
 * (and of later dispatches) shares warm workers instead of forking its own.
 */
const pools = new Map<number, WorkerPool>();

/**
 * Runs tasks in worker processes, isolated from the dispatcher and from each
 * other's crashes, on every core. Arguments and results cross the process
 * boundary through the codec; results come back still encoded, so the
 * dispatcher stores them without encoding twice.
 *
 * @example
 * const heavy = electron(crunch, { executor: new LocalExecutor({ workers: 4 }) });
 */
export class LocalExecutor extends Executor {
  static override pluginName = "local";
  declare readonly options: LocalExecutorOptions;

  constructor(options: LocalExecutorOptions = {}) {
    super(options);
  }

  /** Workers load the dispatch's code from its bundle. */
  override get needsBundle(): boolean {
    return true;
  }

  /** `workers`, when given, must be a whole number of processes, at least 1. */
  override validate(): void {
    const { workers } = this.options;
    if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1)) {
      throw new ExecutorDefinitionError(`local executor: workers must be a whole number of at least 1, got ${String(workers)}`);
    }
  }

  /** Forks the workers while the dispatch is bundled and stored, so the first tasks need not wait. */
  override warmUp(): void {
    this.pool().warm();
  }

  override async setup(): Promise<void> {
    this.pool().warm();
  }

  execute(task: Task): Promise<TaskOutcome> {
    if (task.isAborted ? task.isAborted() : task.signal.aborted) return Promise.resolve(failed(abortError(task.signal)));
    try {
      this.validate();
    } catch (error) {
      return Promise.resolve(failed(error as Error));
    }
    if (!task.bundlePath) return Promise.resolve(failed(new NoBundleError(this.pluginName, task.electronName)));
    let args: string;
    let kwargs: string | undefined;
    try {
      args = encode(task.args, "args");
      if (Object.keys(task.kwargs).length > 0) kwargs = encode(task.kwargs, "kwargs");
    } catch (error) {
      return Promise.resolve(failed(error instanceof Error ? error : new Error(String(error))));
    }
    const pool = this.pool();
    const poolTask = {
      bundlePath: task.bundlePath,
      electronId: task.electronId,
      electronName: task.electronName,
      args,
      live: task.live,
      ...(kwargs === undefined ? {} : { kwargs }),
    };
    return new Promise((resolve) => {
      let finished = false;
      let unwatch: (() => void) | undefined;
      const id = pool.run(poolTask, (outcome) => {
        finished = true;
        unwatch?.();
        resolve(outcome.ok ? new EncodedOutcome(outcome.encoded, outcome.stdout, outcome.stderr, outcome.lane, outcome.startedAt) : outcome);
      });
      // A closed pool answers at once; then there is nothing left to watch.
      // `watchAbort` spares an AbortSignal per task (10k tasks, 10k signals); the signal is made only if it fires.
      const cancel = () => void pool.cancel(id, abortError(task.signal));
      if (!finished) unwatch = task.watchAbort ? task.watchAbort(cancel) : onAbort(task.signal, cancel);
    });
  }

  private pool(): WorkerPool {
    const size = this.options.workers ?? machineParallelism();
    let pool = pools.get(size);
    if (!pool) {
      pool = new WorkerPool({ size });
      pools.set(size, pool);
    }
    return pool;
  }
}

let parallelism: number | undefined;
/** Asked once: `availableParallelism()` is a system call, and `execute` runs ten thousand times a second. */
function machineParallelism(): number {
  parallelism ??= availableParallelism();
  return parallelism;
}

/** Kills every local worker of this process (tests; a server shutting down). Later tasks start new pools. */
export async function closeLocalPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.close()));
}

function failed(error: Error): TaskOutcome {
  return { ok: false, error, stdout: "", stderr: "" };
}
