/**
 * The base of executors that run tasks somewhere else: an SSH host, a Slurm
 * cluster, a Dask cluster. A subclass says how to reach its place; this class
 * turns each task into a package and drives Covalent's remote lifecycle:
 *
 *   validateCredentials → uploadTask → submitTask → pollTask … → queryResult → cleanup
 *
 * with `cancelTask` at any point after submission. A step that throws fails
 * the node with a `RemoteExecutorError` naming the step (the task may not
 * have run); a task that ran and threw fails the node with its own error and
 * remote stack; a task process that died without a result fails it with a
 * `RemoteTaskError` carrying the end of its stderr.
 */
import { cp, mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { ExecutorDefinitionError, RemoteExecutorError, RemoteTaskError, ValenceError } from "../../errors.js";
import type { ResultFile } from "../wire/task-file.js";
import { fromWireError } from "../wire/wire-error.js";
import { abortError } from "../abort-error.js";
import { onAbort } from "../abort-watch.js";
import { EncodedOutcome } from "../encoded-outcome.js";
import { Executor, type ExecutorOptions } from "../executor.js";
import { NoBundleError } from "../no-bundle-error.js";
import type { Task, TaskOutcome } from "../task.js";
import { makeTaskPackage, type TaskPackage } from "./task-package.js";
import { followOutputFile, type OutputFileReader } from "./output-follower.js";

export interface RemoteExecutorOptions extends ExecutorOptions {
  /** Longest wait between two polls of a running task, in seconds (Covalent's `poll_freq`). Default 1. */
  readonly pollFreq?: number;
}

/** Where a submitted task is, as `pollTask` sees it. */
export type RemoteStatus =
  | { readonly state: "pending" | "running" }
  /** The task process ended; its result file (if it wrote one) can be read. */
  | { readonly state: "done" }
  /** The place running it gave up on it (killed, out of memory, timed out); `reason` says so for the node's error. */
  | { readonly state: "failed"; readonly reason: string };

/** What a finished task left behind: its result file and, for diagnosis, its process's own stderr. */
export interface RemoteResult {
  /** `result.json` as written by `valence-task`; undefined when the process left none. */
  readonly resultJson: string | undefined;
  /** The end of the task process's stderr (module top-level output, crash messages). */
  readonly stderrTail?: string;
  /** The process's exit code, when the place knows it. */
  readonly exitCode?: number | null;
}

/** First poll after this many ms, doubling up to `pollFreq`: short tasks finish fast, long ones are not polled hard. */
const FIRST_POLL_MS = 20;
/** A followed output file is read at most this often (or every pollFreq, if slower): one read per running task per round. */
const FOLLOW_MIN_MS = 500;

export abstract class RemoteExecutor<Job = unknown> extends Executor {
  declare readonly options: RemoteExecutorOptions;

  constructor(options: RemoteExecutorOptions = {}) {
    super(options);
  }

  override get needsBundle(): boolean {
    return true;
  }

  override validate(): void {
    const { pollFreq } = this.options;
    if (pollFreq !== undefined && !(typeof pollFreq === "number" && pollFreq > 0)) {
      throw new ExecutorDefinitionError(`${this.pluginName} executor: pollFreq must be a number of seconds above 0, got ${String(pollFreq)}`);
    }
  }

  /** Checks that the place can be reached with the given credentials; throws an error that says what to fix. Run once per instance. */
  abstract validateCredentials(): Promise<void>;
  /** Puts the package's files where the task will run (skipping shared files already there). */
  abstract uploadTask(pkg: TaskPackage): Promise<void>;
  /** Starts the task; returns whatever identifies it to the other steps (a pid, a Slurm job id, a future key). */
  abstract submitTask(pkg: TaskPackage): Promise<Job>;
  /** Where the task is now. */
  abstract pollTask(job: Job, pkg: TaskPackage): Promise<RemoteStatus>;
  /** Fetches what the finished task left: its result file and the end of its stderr. */
  abstract queryResult(job: Job, pkg: TaskPackage): Promise<RemoteResult>;
  /** Removes the task's files from the place. Shared files (runner, bundles) stay for later tasks. */
  async cleanup(_job: Job, _pkg: TaskPackage): Promise<void> {}
  /**
   * Copies a file or directory from the dispatcher's disk to the task's place
   * (a `FileTransfer` with order "before"). The default copies on this
   * machine, right for places that share its disk; an executor with a
   * transport of its own (sftp) overrides it.
   */
  async putFile(localPath: string, remotePath: string): Promise<void> {
    await mkdir(dirname(resolve(remotePath)), { recursive: true });
    await cp(localPath, remotePath, { recursive: true });
  }

  /** Copies a file or directory from the task's place back to the dispatcher's disk (order "after"). */
  async getFile(remotePath: string, localPath: string): Promise<void> {
    await mkdir(dirname(resolve(localPath)), { recursive: true });
    await cp(remotePath, localPath, { recursive: true });
  }

  /** Stops a submitted task (kill its process group, scancel, cancel the future). */
  async cancelTask(_job: Job, _pkg: TaskPackage): Promise<void> {}

  /**
   * Waits before the next poll. The default sleeps, doubling from 20 ms up to
   * `pollFreq`; a subclass told of completion (an ssh channel closing, a Dask
   * future finishing) resolves as soon as it knows.
   */
  protected waitForChange(_job: Job, _pkg: TaskPackage, polls: number, signal: AbortSignal): Promise<void> {
    const ms = Math.min(FIRST_POLL_MS * 2 ** polls, (this.options.pollFreq ?? 1) * 1000);
    return sleep(ms, signal);
  }

  /** Runs `validateCredentials` once per instance; a failure is retried by the next task. */
  protected credentialsChecked(): Promise<void> {
    const check = this.runtimeState("credentials", () =>
      this.validateCredentials().catch((error: unknown) => {
        this.clearRuntimeState("credentials");
        throw error;
      }),
    );
    return check;
  }

  async execute(task: Task): Promise<TaskOutcome> {
    if (task.signal.aborted) return failed(abortError(task.signal));
    try {
      this.validate();
    } catch (error) {
      return failed(error as Error);
    }
    if (!task.bundlePath) return failed(new NoBundleError(this.pluginName, task.electronName));
    let pkg: TaskPackage;
    try {
      pkg = makeTaskPackage({ ...task, bundlePath: task.bundlePath });
    } catch (error) {
      return failed(error as Error);
    }
    const aborted = new AbortController();
    const unwatch = onAbort(task.signal, () => aborted.abort(task.signal.reason));
    let job: { value: Job } | undefined;
    try {
      await this.step("validateCredentials", () => this.credentialsChecked());
      this.throwIfAborted(task);
      await this.step("uploadTask", () => this.uploadTask(pkg));
      await this.step("files in", () => this.transferFiles(task, "before"));
      this.throwIfAborted(task);
      job = { value: await this.step("submitTask", () => this.submitTask(pkg)) };
      const status = await this.waitUntilFinished(job.value, pkg, task, aborted.signal);
      const result = await this.step("queryResult", () => this.queryResult(job!.value, pkg));
      const outcome = outcomeOf(result, status, pkg);
      if (outcome.ok) await this.step("files out", () => this.transferFiles(task, "after"));
      const lane = this.laneOf(job.value);
      if (lane === undefined) return outcome;
      return outcome instanceof EncodedOutcome ? new EncodedOutcome(outcome.encoded, outcome.stdout, outcome.stderr, lane, outcome.startedAt) : { ...outcome, lane };
    } catch (error) {
      if (task.signal.aborted) {
        if (job) await this.cancelTask(job.value, pkg).catch(() => {});
        return failed(abortError(task.signal));
      }
      return failed(error instanceof Error ? error : new Error(String(error)));
    } finally {
      unwatch();
      if (job) await this.cleanup(job.value, pkg).catch(() => {});
    }
  }

  /**
   * How to read this job's `output.jsonl` (its task directory's, see wire/output-file.ts)
   * from an offset, for a job that runs in a `valence-task` process of its own: its output
   * is then followed live while it runs. Undefined (the default) for jobs whose runners
   * stream output themselves (TaskPackage.live), which are then not followed at all.
   */
  protected outputFileReader(_job: Job, _pkg: TaskPackage): OutputFileReader | undefined {
    return undefined;
  }

  /** Where the job ran, for the dashboard's timeline (TaskOutcome.lane): a host, a worker, a job id; undefined: unknown. */
  protected laneOf(_job: Job): string | undefined {
    return undefined;
  }

  private async transferFiles(task: Task, order: "before" | "after"): Promise<void> {
    for (const file of task.setup?.files ?? []) {
      // A file with a strategy is moved by the task's own set-up, on the host (task-runner/setup.ts).
      if (file.order !== order || file.strategy) continue;
      if (order === "before") await this.putFile(file.from, file.to);
      else await this.getFile(file.from, file.to);
    }
  }

  private async waitUntilFinished(job: Job, pkg: TaskPackage, task: Task, signal: AbortSignal): Promise<RemoteStatus> {
    const cancelled = whenAborted(signal);
    const read = pkg.live && this.outputFileReader(job, pkg);
    const follower = read ? followOutputFile(read, pkg.live!, Math.max(FOLLOW_MIN_MS, (this.options.pollFreq ?? 1) * 1000)) : undefined;
    try {
      for (let polls = 0; ; polls++) {
        this.throwIfAborted(task);
        const status = await this.step("pollTask", () => this.pollTask(job, pkg));
        if (status.state === "done" || status.state === "failed") return status;
        // A subclass's wait need not watch the signal: a cancel ends the wait here.
        await Promise.race([this.waitForChange(job, pkg, polls, signal).catch(() => {}), cancelled]);
      }
    } finally {
      follower?.stop();
    }
  }

  private throwIfAborted(task: Task): void {
    if (task.signal.aborted) throw abortError(task.signal);
  }

  /** Runs one lifecycle step; a failure becomes a `RemoteExecutorError` naming it, unless it is one of ours already. */
  private async step<T>(stage: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof ValenceError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new RemoteExecutorError(this.pluginName, stage, message, { cause: error });
    }
  }
}

/** Turns what a finished task left into its outcome. */
export function outcomeOf(result: RemoteResult, status: RemoteStatus, pkg: TaskPackage): TaskOutcome {
  if (result.resultJson === undefined) {
    const why = status.state === "failed" ? status.reason : `exit code ${result.exitCode ?? "unknown"}`;
    const tail = result.stderrTail?.trim();
    return failed(
      new RemoteTaskError(
        `task "${pkg.electronName}" (node ${pkg.meta.nodeId}) ended without a result (${why})` + (tail ? `; its stderr ends with:\n${tail}` : ""),
      ),
    );
  }
  let file: ResultFile;
  try {
    file = JSON.parse(result.resultJson) as ResultFile;
  } catch (error) {
    return failed(new RemoteTaskError(`the result file of task "${pkg.electronName}" is not JSON: ${(error as Error).message}`));
  }
  if (file.ok) {
    // The runner's clock: the dispatcher keeps it within the task's own handoff and end (another host's clock may be off).
    const began = typeof file.startedAt === "string" ? Date.parse(file.startedAt) : NaN;
    return new EncodedOutcome(file.value, file.stdout, file.stderr, undefined, Number.isFinite(began) ? began : undefined);
  }
  return { ok: false, error: fromWireError(file.error), stdout: file.stdout, stderr: file.stderr };
}

function failed(error: Error): TaskOutcome {
  return { ok: false, error, stdout: "", stderr: "" };
}

function whenAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else onAbort(signal, resolve);
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    const unwatch = onAbort(signal, done);
    function done(): void {
      clearTimeout(timer);
      unwatch();
      resolve();
    }
  });
}
