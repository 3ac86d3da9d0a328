/**
 * The command that runs one task package on the host, in the foreground of
 * its own channel, so the task's end is known the moment the channel closes.
 *
 *   1. prints its pid: the login shell sshd starts is a session and process
 *      group leader, and `exec sh` keeps its pid, so this is the group id
 *      that `kill -KILL -- -PID` ends, node and its children with it;
 *   2. writes `task.json` from stdin (no separate upload round trips);
 *   3. runs `node RUNNER TASKDIR`, its output in the task's log files;
 *   4. prints `R` and `result.json`, then the tail of the process's stderr on
 *      stderr, removes the task directory and exits with node's code.
 *
 * One line without newlines: the login shell may be csh or fish, which
 * parse `&&`, `exec` and single quotes like sh but not a multi-line script.
 */
import { shellQuote } from "valence/executor";

/** Exit code of the script when it could not write `task.json` (a full disk, a read-only working dir). */
export const TASK_FILE_WRITE_FAILED = 125;
/** Bytes of the task process's stderr sent back for diagnosis. */
export const STDERR_TAIL_BYTES = 4000;

const INNER = [
  "td=$1",
  "echo $$",
  `mkdir -p "$td" && cat > "$td/task.json" || { rm -rf "$td"; exit ${TASK_FILE_WRITE_FAILED}; }`,
  '"$2" "$3" "$td" < /dev/null > "$td/stdout.log" 2> "$td/stderr.log"',
  "code=$?",
  'if [ -f "$td/result.json" ]; then echo R; cat "$td/result.json"; fi',
  `tail -c ${STDERR_TAIL_BYTES} "$td/stderr.log" >&2`,
  'rm -rf "$td"',
  "exit $code",
].join("; ");

export interface TaskScriptInput {
  /** The remote working directory (relative to the remote home, or absolute). */
  readonly workdir: string;
  /** The task's directory, relative to `workdir`. */
  readonly taskDir: string;
  readonly nodePath: string;
  /** The runner file, relative to `workdir`. */
  readonly runner: string;
}

export function taskScript(input: TaskScriptInput): string {
  const args = [input.taskDir, input.nodePath, input.runner].map(shellQuote).join(" ");
  return `cd ${shellQuote(input.workdir)} && exec sh -c ${shellQuote(INNER)} valence-task ${args}`;
}

/** The pid on the first line of the script's stdout, once that line is complete. */
export function pidFromStdout(stdoutSoFar: string): number | undefined {
  const newline = stdoutSoFar.indexOf("\n");
  if (newline < 0) return undefined;
  const pid = Number(stdoutSoFar.slice(0, newline));
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

/** `result.json` as the script printed it after the pid line, or undefined when the task left none. */
export function resultFromStdout(stdout: string): string | undefined {
  const newline = stdout.indexOf("\n");
  if (newline < 0) return undefined;
  const rest = stdout.slice(newline + 1);
  return rest.startsWith("R\n") ? rest.slice(2) : undefined;
}
