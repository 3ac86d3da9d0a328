/**
 * `valence-executor-slurm`: runs Valence tasks as Slurm batch jobs, submitted
 * from this machine or from a login node over SSH.
 *
 * @example
 * import { SlurmExecutor } from "valence-executor-slurm";
 * const slurm = new SlurmExecutor({ partition: "debug", time: 10, memory: "2G" });
 * export const simulate = electron(runSimulation, { executor: slurm });
 */
import type { SlurmExecutorOptions } from "./options.js";

export { SlurmExecutor, DEFAULT_WORKDIR } from "./slurm-executor.js";
export type { SlurmJob } from "./slurm-executor.js";
export type { SlurmExecutorOptions, SlurmSshOptions, SbatchOptionValue } from "./options.js";
export { SlurmSubmitError, SlurmCommandError } from "./errors.js";
export { sbatchScript } from "./sbatch-script.js";
export { remoteStatus, SLURM_STATES, UNRUNNABLE_REASONS } from "./slurm-states.js";
export type { SlurmState, JobInfo } from "./slurm-states.js";

/** The registry name: `electron(fn, { executor: "slurm" })`. */
export const executorPluginName = "slurm";

/** Used when the executor is made by name; the config file's `[executors.slurm]` table overrides them. */
export const executorPluginDefaults: SlurmExecutorOptions = {
  pollFreq: 1,
  nodePath: "node",
};
