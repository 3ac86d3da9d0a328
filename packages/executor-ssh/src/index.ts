/**
 * `valence-executor-ssh`: the `ssh` executor, which runs Valence tasks on any
 * host with `node` over SSH, and the `SshConnection` it is built on (the
 * Slurm plugin reaches its login node with it too).
 *
 * @example
 * import { SSHExecutor } from "valence-executor-ssh";
 * const gpu = new SSHExecutor({ hostname: "gpu1" });
 */
import { SSHExecutor } from "./ssh-executor.js";

export const executorPluginName = "ssh";
export { SSHExecutor };
export default SSHExecutor;
export type { SshJob } from "./ssh-executor.js";
export { executorPluginDefaults } from "./options.js";
export type { SSHExecutorOptions } from "./options.js";
export { SshConnection } from "./ssh-connection.js";
export type { ExecOptions, ExecResult } from "./ssh-connection.js";
export type { SshTarget } from "./ssh-target.js";
export {
  HostKeyMismatchError,
  HostKeyUnknownError,
  SshAuthError,
  SshConnectError,
  SshConnectionLostError,
  SshError,
  SshKeyFileError,
  SshRemoteSetupError,
} from "./errors.js";
