// A custom executor, as in Covalent's "Creating a Custom Executor" guide:
// it runs each task in the dispatching process and records the CPU time the
// task took, with its dispatch id and node id, in a log file.
import { appendFileSync } from "node:fs";
import { resolve } from "node:path";
import { BaseExecutor, type Kwargs, type TaskFunction, type TaskMetadata } from "valence/executor";

export const executorPluginName = "TimingExecutor";

export class TimingExecutor extends BaseExecutor {
  readonly timingFilepath: string;

  constructor(timingFilepath: string, options = {}) {
    super(options);
    // Resolved now, in the user's working directory, so the log lands where the user looks for it.
    this.timingFilepath = resolve(timingFilepath);
  }

  run(fn: TaskFunction, args: unknown[], kwargs: Kwargs, taskMetadata: TaskMetadata): unknown {
    const start = process.cpuUsage();
    const result = (fn as (...a: unknown[]) => unknown)(...args, ...(Object.keys(kwargs).length ? [kwargs] : []));
    const used = process.cpuUsage(start);
    const seconds = (used.user + used.system) / 1e6;
    appendFileSync(
      this.timingFilepath,
      `Node ${taskMetadata.nodeId} in dispatch ${taskMetadata.dispatchId} took ${seconds}s of CPU time.\n`,
    );
    return result;
  }
}
