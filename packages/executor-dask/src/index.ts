/**
 * `valence-executor-dask`: runs Valence tasks on an existing Dask cluster.
 *
 * @example
 * import { DaskExecutor } from "valence-executor-dask";
 * const dask = new DaskExecutor({ schedulerAddress: "tcp://127.0.0.1:8786" });
 */
export const executorPluginName = "dask";
export { DaskExecutor } from "./dask-executor.js";
export { executorPluginDefaults } from "./options.js";
export type { DaskExecutorOptions, DaskIsolation } from "./options.js";
export { DaskBridgeError, DaskExecutorError, DaskPythonError, DaskSchedulerUnreachableError } from "./errors.js";
