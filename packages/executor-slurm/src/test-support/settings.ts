/**
 * How the scenario tests tell their workflow modules which cluster to use:
 * one JSON environment variable, set before the module is imported. The
 * module is also imported inside every job (it is the code bundle), where
 * the variable may be missing: the defaults then only have to be valid.
 */
import type { SlurmExecutorOptions } from "../options.js";

export const SETTINGS_VAR = "VALENCE_TEST_SLURM";

/** Options every executor of the workflow modules starts from. */
export function testOptions(): SlurmExecutorOptions {
  const raw = process.env[SETTINGS_VAR];
  return raw ? (JSON.parse(raw) as SlurmExecutorOptions) : {};
}
