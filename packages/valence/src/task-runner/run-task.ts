/**
 * Runs one task package: reads `task.json`, finds the electron in its bundle,
 * calls it with output captured, and writes `result.json`. What the task
 * threw is a result like any other; only a package that cannot be read or a
 * result that cannot be written is the runner's own failure.
 */
import { randomBytes } from "node:crypto";
import { appendFileSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { decode, encode } from "../codec/index.js";
import { runCaptured, type LiveSink } from "../executor/capture.js";
import type { ElectronId } from "../ids.js";
import { taskFunction } from "./setup.js";
import { findElectron } from "./bundle-loader.js";
import { RESULT_FILE, TASK_FILE, TASK_FILE_FORMAT, type ResultFile, type TaskFile } from "../executor/wire/task-file.js";
import { toWireError } from "../executor/wire/wire-error.js";
import { OUTPUT_FILE, outputFileLine } from "../executor/wire/output-file.js";

/** A task directory the runner cannot use: it says which file and what is wrong with it. */
export class TaskPackageError extends Error {
  override readonly name = "TaskPackageError";
}

export async function readTaskFile(taskDir: string): Promise<TaskFile> {
  const path = join(taskDir, TASK_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new TaskPackageError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let parsed: Partial<TaskFile>;
  try {
    parsed = JSON.parse(text) as Partial<TaskFile>;
  } catch (error) {
    throw new TaskPackageError(`${path} is not JSON: ${(error as Error).message}`);
  }
  return checkTaskFile(parsed, path);
}

/** `parsed` as a task file, or a `TaskPackageError` naming `where` and the bad field. */
export function checkTaskFile(parsed: Partial<TaskFile>, where: string): TaskFile {
  if (typeof parsed !== "object" || parsed === null) throw new TaskPackageError(`${where} is not a JSON object`);
  if (parsed.format !== TASK_FILE_FORMAT) {
    throw new TaskPackageError(
      `${where} has format ${String(parsed.format)}; this valence-task reads format ${TASK_FILE_FORMAT}: use the same valence version on both sides`,
    );
  }
  for (const field of ["bundle", "electronId", "electronName", "args"] as const) {
    if (typeof parsed[field] !== "string") throw new TaskPackageError(`${where}: "${field}" must be a string`);
  }
  return parsed as TaskFile;
}

/** Runs the package in `taskDir` and writes its result file; resolves once the file is in place. */
export async function runTaskDir(taskDir: string): Promise<ResultFile> {
  const task = await readTaskFile(taskDir);
  const bundle = isAbsolute(task.bundle) ? task.bundle : join(taskDir, task.bundle);
  // The live copy of the output, for a dispatcher that follows the task while it runs (output-file.ts).
  const outputFile = join(taskDir, OUTPUT_FILE);
  const result = await runTask(task, bundle, (stream, text) => appendFileSync(outputFile, outputFileLine(stream, text)));
  await writeAtomically(join(taskDir, RESULT_FILE), JSON.stringify(result));
  return result;
}

/** Runs one task from `bundlePath`; what the task threw is in the result, never thrown. */
export async function runTask(task: TaskFile, bundlePath: string, live?: LiveSink): Promise<ResultFile> {
  const startedAt = new Date().toISOString();
  const failed = (thrown: unknown, stdout = "", stderr = ""): ResultFile => ({
    format: TASK_FILE_FORMAT,
    ok: false,
    error: toWireError(thrown),
    stdout,
    stderr,
    startedAt,
    endedAt: new Date().toISOString(),
  });
  let fn: (...a: unknown[]) => unknown;
  let args: unknown[];
  try {
    // The remote executor moves the electron's files over its own transport; only the rest runs here.
    fn = taskFunction(await findElectron(bundlePath, task.electronId as ElectronId), { copyFiles: false });
    args = decode(task.args) as unknown[];
  } catch (error) {
    return failed(error);
  }
  const call = runCaptured(() => fn(...args), live);
  try {
    const value = await call.result;
    const { stdout, stderr } = call.output();
    return {
      format: TASK_FILE_FORMAT,
      ok: true,
      value: encode(value, "return value"),
      stdout,
      stderr,
      startedAt,
      endedAt: new Date().toISOString(),
    };
  } catch (error) {
    const { stdout, stderr } = call.output();
    return failed(error, stdout, stderr);
  }
}

/** Temp file + rename: whoever polls for the result never reads half of it. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}
