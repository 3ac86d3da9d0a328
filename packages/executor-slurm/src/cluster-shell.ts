/**
 * Where the executor runs Slurm's client commands and reaches the cluster's
 * shared file system: this machine (`LocalShell`) or a login node over SSH
 * (`SshShell`). Everything the executor does on the cluster goes through
 * this interface, so both places behave the same.
 */
import type { TaskPackage } from "valence/executor";

export interface CommandResult {
  /** Exit code; null when the command was killed by a signal. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ClusterShell {
  /** Where commands run, for error messages: "this machine", "login node me@login1:22". */
  readonly where: string;
  /**
   * Runs one shell command line with the executor's `env` set. Resolves
   * with its exit code and output, whatever the code; rejects only when the
   * command could not be run at all (no connection) or ran past its time limit.
   */
  run(command: string, options?: { readonly timeoutMs?: number }): Promise<CommandResult>;
  /** `path` made absolute there: `~` and `~/x` from the home directory, relative paths from it too. */
  resolvePath(path: string): Promise<string>;
  /** Puts `pkg` under `workdir`: the runner and bundle only when missing, `task.json` always. */
  putPackage(pkg: TaskPackage, workdir: string): Promise<void>;
  /** A whole file, or undefined if it does not exist. */
  readFile(path: string): Promise<string | undefined>;
  /** The last `bytes` bytes of a file (logs may be large), or undefined if it does not exist. */
  readTail(path: string, bytes: number): Promise<string | undefined>;
  /** A file from byte `offset` to its end, or undefined if it does not exist. For ASCII files (a task's output.jsonl): bytes are characters. */
  readFrom(path: string, offset: number): Promise<string | undefined>;
  /** Removes a directory and everything in it; no error if it is gone. */
  removeDir(path: string): Promise<void>;
  /** Lets go of connections. The shell may be used again afterwards (it reconnects). */
  close(): Promise<void>;
}

/** How long one Slurm client command may take before it counts as hung (sbatch retries an unreachable controller for a while). */
export const COMMAND_TIMEOUT_MS = 60_000;

/** POSIX-shell `export` lines for `env`, to prefix a remote command with. */
export function exportPrefix(env: Readonly<Record<string, string>> | undefined, quote: (s: string) => string): string {
  const entries = Object.entries(env ?? {});
  return entries.length === 0 ? "" : `export ${entries.map(([k, v]) => `${k}=${quote(v)}`).join(" ")}; `;
}
