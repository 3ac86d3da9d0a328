/**
 * A task made self-contained for a place with nothing but `node`: the code
 * bundle (by content hash), the `valence-task` runner, and `task.json` with
 * the electron's id and its encoded arguments.
 *
 * Every remote executor lays a package out the same way under its working
 * directory, so one command runs it anywhere:
 *
 *   WORKDIR/valence-task-<hash>.mjs           the runner
 *   WORKDIR/bundles/<hash>.mjs                the user's code, shared by every task
 *   WORKDIR/tasks/<dispatch>/<node>-<nonce>/  task.json, result.json, stdout.log, stderr.log
 *
 * Both shared files are named by their content, so a file already on a host
 * is never uploaded again and never changes under a running task.
 */
import type { LiveSink } from "../capture.js";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, rename, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { encode } from "../../codec/index.js";
import {
  RESULT_FILE,
  STDERR_LOG,
  STDOUT_LOG,
  TASK_FILE,
  TASK_FILE_FORMAT,
  type TaskFile,
} from "../wire/task-file.js";
import type { Task, TaskMetadata } from "../task.js";
import { OUTPUT_FILE } from "../wire/output-file.js";

/** A file of the package that lives beside many tasks, named by its content. */
export interface SharedFile {
  /** Where it is on the dispatcher's disk. */
  readonly localPath: string;
  /** Where it goes, relative to the working directory. */
  readonly relPath: string;
  readonly hash: string;
}

export interface TaskPackage {
  readonly meta: TaskMetadata;
  readonly electronName: string;
  readonly runner: SharedFile;
  readonly bundle: SharedFile;
  /** The task's own directory, relative to the working directory. Unique per attempt. */
  readonly taskDir: string;
  /** The contents of `task.json`; its bundle path is relative to `taskDir`. */
  readonly taskJson: string;
  /** Where the task's output goes while it runs (Task.live), for executors whose runners stream it. */
  readonly live?: LiveSink | undefined;
}

/** Names of the files inside a task's directory, relative to the working directory. */
export function taskFiles(pkg: TaskPackage): { task: string; result: string; stdout: string; stderr: string; output: string } {
  return {
    output: `${pkg.taskDir}/${OUTPUT_FILE}`,
    task: `${pkg.taskDir}/${TASK_FILE}`,
    result: `${pkg.taskDir}/${RESULT_FILE}`,
    stdout: `${pkg.taskDir}/${STDOUT_LOG}`,
    stderr: `${pkg.taskDir}/${STDERR_LOG}`,
  };
}

/** Builds the package of `task`, whose `bundlePath` must be set. */
export function makeTaskPackage(task: Task & { readonly bundlePath: string }): TaskPackage {
  const bundleHash = basename(task.bundlePath).replace(/\.mjs$/, "");
  const bundle: SharedFile = { localPath: task.bundlePath, relPath: `bundles/${bundleHash}.mjs`, hash: bundleHash };
  const { dispatchId, nodeId } = task.meta;
  const taskDir = `tasks/${dispatchId}/${nodeId}-${randomBytes(4).toString("hex")}`;
  const hasKwargs = Object.keys(task.kwargs).length > 0;
  const file: TaskFile = {
    format: TASK_FILE_FORMAT,
    bundle: `../../../${bundle.relPath}`,
    electronId: task.electronId,
    electronName: task.electronName,
    args: encode(task.args, "args"),
    ...(hasKwargs ? { kwargs: encode(task.kwargs, "kwargs") } : {}),
    meta: task.meta,
  };
  return { meta: task.meta, electronName: task.electronName, runner: runnerFile(), bundle, taskDir, taskJson: JSON.stringify(file), live: task.live };
}

/**
 * Writes the package into `workdir` on this machine's file system (a Slurm
 * cluster's shared disk, say): the shared files only when missing, written
 * atomically so concurrent tasks never read half a bundle.
 */
export async function writeTaskPackage(pkg: TaskPackage, workdir: string): Promise<void> {
  await Promise.all([copyIfMissing(pkg.runner, workdir), copyIfMissing(pkg.bundle, workdir)]);
  const files = taskFiles(pkg);
  await mkdir(join(workdir, pkg.taskDir), { recursive: true });
  await writeFile(join(workdir, files.task), pkg.taskJson);
}

async function copyIfMissing(file: SharedFile, workdir: string): Promise<void> {
  const target = join(workdir, file.relPath);
  if (existsSync(target)) return;
  await mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.${randomBytes(4).toString("hex")}.tmp`;
  await copyFile(file.localPath, tmp);
  await rename(tmp, target);
}

/**
 * The shell command that runs the package from `workdir` with `nodePath`,
 * its process output going to the task's log files. One string, for a remote
 * shell (ssh, sbatch) to parse.
 */
export function taskCommand(pkg: TaskPackage, workdir: string, nodePath = "node"): string {
  const files = taskFiles(pkg);
  return (
    `cd ${shellQuote(workdir)} && ${shellQuote(nodePath)} ${shellQuote(pkg.runner.relPath)} ${shellQuote(pkg.taskDir)}` +
    ` > ${shellQuote(files.stdout)} 2> ${shellQuote(files.stderr)}`
  );
}

/** Quotes `s` as one word for a POSIX shell. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

let runner: SharedFile | undefined;

/**
 * `valence-task.mjs`, built by the package's build into `dist/`. Found from
 * `dist/executor/remote/` when installed, and from `src/executor/remote/`
 * when running from source (the build has still made it).
 */
export function runnerFile(): SharedFile {
  if (runner) return runner;
  const candidates = ["../../valence-task.mjs", "../../../dist/valence-task.mjs"].map((rel) =>
    fileURLToPath(new URL(rel, import.meta.url)),
  );
  const localPath = candidates.find((p) => existsSync(p));
  if (!localPath) {
    throw new Error(`valence-task.mjs is missing (looked at ${candidates.join(", ")}): run \`npm run build -w valence\``);
  }
  const hash = createHash("sha256").update(readFileSync(localPath)).digest("hex").slice(0, 16);
  runner = { localPath, relPath: `valence-task-${hash}.mjs`, hash };
  return runner;
}
