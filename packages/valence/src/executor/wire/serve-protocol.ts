/**
 * The protocol of a persistent task runner (`valence-task --serve`): one JSON
 * object per line in each direction, over the runner's stdin and stdout (an
 * SSH channel, a pipe from a Dask worker, a Slurm pilot's pipe).
 *
 *   runner → side   {"t":"ready","format":1,"pid":1234}     once, when it reads lines
 *   side → runner   {"t":"run","id":"…","bundle":"bundles/<hash>.mjs","task":{…task.json…}}
 *   runner → side   {"t":"output","id":"…","stream":"stdout","text":"…"}   while the task runs (any number)
 *   runner → side   {"t":"result","id":"…","result":{…result.json…}}
 *
 * Tasks run concurrently, in the order their lines arrive; results come back
 * as each ends. `bundle` is a path from the runner's working directory (or
 * absolute). EOF on stdin ends the runner at once. The runner's stderr
 * carries everything else: the module's top-level output, crash messages.
 *
 * A result line is written as `{"t":"result","id":ID,"result":` + the result
 * file's JSON + `}`, so a side that only forwards the result (the executor
 * parses it later, as it would a result.json) can slice it out unparsed.
 */
import type { ResultFile, TaskFile } from "./task-file.js";
import type { OutputStream } from "../capture.js";

/** Bumped when a line changes shape; the ready line names it so each side can refuse the other's. */
export const SERVE_FORMAT = 1;

export interface ReadyLine {
  readonly t: "ready";
  readonly format: typeof SERVE_FORMAT;
  /** The runner's pid: its process group id too, when it was started as a group leader (`kill -9 -PID`). */
  readonly pid: number;
}

export interface RunLine {
  readonly t: "run";
  /** Chosen by the side, unique among the runner's tasks in flight. */
  readonly id: string;
  readonly bundle: string;
  readonly task: TaskFile;
}

/** A running task's output so far: the result still carries all of it. A side that knows no output lines only logs them. */
export interface OutputLine {
  readonly t: "output";
  readonly id: string;
  readonly stream: OutputStream;
  readonly text: string;
}

export function outputLine(id: string, stream: OutputStream, text: string): string {
  return `${JSON.stringify({ t: "output", id, stream, text } satisfies OutputLine)}\n`;
}

/** An output line's fields, or undefined for any other line. */
export function parseOutputLine(line: string): OutputLine | undefined {
  if (!line.startsWith('{"t":"output"')) return undefined;
  try {
    const o = JSON.parse(line) as Partial<OutputLine>;
    if (typeof o.id !== "string" || typeof o.text !== "string" || (o.stream !== "stdout" && o.stream !== "stderr")) return undefined;
    return o as OutputLine;
  } catch {
    return undefined;
  }
}

export interface ResultLine {
  readonly t: "result";
  readonly id: string;
  readonly result: ResultFile;
}

/** The line that asks a runner to run `taskJson` (a task.json's text) from `bundle`. */
export function runLine(id: string, bundle: string, taskJson: string): string {
  return `{"t":"run","id":${JSON.stringify(id)},"bundle":${JSON.stringify(bundle)},"task":${taskJson}}\n`;
}

export function readyLine(pid: number): string {
  return `${JSON.stringify({ t: "ready", format: SERVE_FORMAT, pid } satisfies ReadyLine)}\n`;
}

export function resultLine(id: string, resultJson: string): string {
  return `{"t":"result","id":${JSON.stringify(id)},"result":${resultJson}}\n`;
}

const RESULT_LINE = /^\{"t":"result","id":("(?:[^"\\]|\\.)*"),"result":(.*)\}$/s;

/** The id and the result file's JSON of a result line, unparsed; undefined for any other line. */
export function sliceResultLine(line: string): { id: string; resultJson: string } | undefined {
  const m = RESULT_LINE.exec(line.replace(/\r?\n$/, ""));
  if (!m) return undefined;
  return { id: JSON.parse(m[1] as string) as string, resultJson: m[2] as string };
}

/** The ready line's pid, or undefined when `line` is not a ready line of this format. */
export function parseReadyLine(line: string): { pid: number } | { format: unknown } | undefined {
  if (!line.startsWith('{"t":"ready"')) return undefined;
  try {
    const ready = JSON.parse(line) as Partial<ReadyLine>;
    if (ready.format !== SERVE_FORMAT) return { format: ready.format };
    return typeof ready.pid === "number" ? { pid: ready.pid } : undefined;
  } catch {
    return undefined;
  }
}
