/**
 * The files of a task package, as `valence-task` reads and writes them on
 * the host that runs the task. Plain JSON, versioned, so a runner and a
 * dispatcher of different releases notice a mismatch instead of guessing.
 *
 * Layout inside a task's directory:
 *   task.json    what to run (written by the dispatcher's side)
 *   result.json  how it ended (written by `valence-task`, atomically)
 *   stdout.log, stderr.log  the process's own output, for when it dies
 */
import type { TaskMetadata } from "../task.js";
import type { WireError } from "./wire-error.js";

export const TASK_FILE_FORMAT = 1;
export const TASK_FILE = "task.json";
export const RESULT_FILE = "result.json";
export const STDOUT_LOG = "stdout.log";
export const STDERR_LOG = "stderr.log";

export interface TaskFile {
  readonly format: typeof TASK_FILE_FORMAT;
  /** The code bundle: absolute, or relative to the task's directory. */
  readonly bundle: string;
  readonly electronId: string;
  readonly electronName: string;
  /** `encode(args, "args")`. */
  readonly args: string;
  /** `encode(kwargs, "kwargs")`, when the electron got named args. */
  readonly kwargs?: string;
  readonly meta: TaskMetadata;
}

interface ResultBase {
  readonly format: typeof TASK_FILE_FORMAT;
  /** What the task printed while it ran (not the module's top-level output). */
  readonly stdout: string;
  readonly stderr: string;
  /** ISO times around the call itself. */
  readonly startedAt: string;
  readonly endedAt: string;
  /** In a Slurm pilot's answer: the pilot (its job id) that ran the task. */
  readonly pilot?: string;
}

export type ResultFile =
  | (ResultBase & { readonly ok: true; /** `encode(value, "return value")` */ readonly value: string })
  | (ResultBase & { readonly ok: false; readonly error: WireError });
