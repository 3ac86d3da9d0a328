/**
 * What goes wrong between the dispatcher and a Dask cluster, each with a
 * stable `code` and a message that names what to fix.
 */
import { ValenceError } from "valence/executor";

/** The base of the Dask executor's own errors. */
export class DaskExecutorError extends ValenceError {
  override readonly code: string = "DASK_EXECUTOR";
}

/** The bridge's Python cannot be started, or cannot import `distributed`. `python` names the interpreter. */
export class DaskPythonError extends DaskExecutorError {
  override readonly code = "DASK_PYTHON";
  constructor(readonly python: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The scheduler did not answer within `connectTimeout`. */
export class DaskSchedulerUnreachableError extends DaskExecutorError {
  override readonly code = "DASK_SCHEDULER_UNREACHABLE";
  constructor(readonly schedulerAddress: string, message: string) {
    super(message);
  }
}

/** The bridge process ended or broke the protocol; `stderrTail` is the end of what it printed. */
export class DaskBridgeError extends DaskExecutorError {
  override readonly code = "DASK_BRIDGE";
  constructor(message: string, readonly stderrTail = "") {
    super(message);
  }
}
