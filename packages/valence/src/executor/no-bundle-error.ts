import { ValenceError } from "../errors.js";

/**
 * A task reached an executor that runs code in another process without the
 * code bundle that holds its electron: the dispatcher must bundle the entry
 * module (`bundleEntry`) and set `task.bundlePath`.
 */
export class NoBundleError extends ValenceError {
  override readonly code = "NO_BUNDLE";
  constructor(
    readonly executorName: string,
    readonly electronName: string,
  ) {
    super(
      `the ${executorName} executor runs electron "${electronName}" in another process and needs its code bundle, ` +
        `but the task has no bundlePath: bundle the dispatch's entry module (bundleEntry) before running tasks on it`,
    );
  }
}
