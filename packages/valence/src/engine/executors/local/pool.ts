/**
 * A pool of forked worker processes that run tasks from code bundles.
 */
import { availableParallelism } from "node:os";
import { TaskCancelledError, WorkerCrashedError } from "../../../errors.js";
import type { LiveSink } from "../../../executor/capture.js";
import type { DoneMessage, WireResult, WireTask } from "./protocol.js";
import { fromWireError } from "../../../executor/wire/wire-error.js";
import { workerExecArgv, workerMainPath } from "./worker-argv.js";
import { WorkerProcess } from "./worker-process.js";

/** A task for the pool. */
export interface PoolTask {
  readonly bundlePath: string;
  readonly electronId: string;
  /** Shown in crash messages; the id alone is a call site. */
  readonly electronName: string;
  /** `encode(args, "args")`. */
  readonly args: string;
  readonly kwargs?: string;
  /** Gets the task's output while it runs (Task.live). */
  readonly live?: LiveSink | undefined;
}

/** How a pool task ended: the encoded return value, or an Error; `lane`: the worker it ran on ("local worker N"), when it ran. */
export type PoolOutcome =
  | { readonly ok: true; readonly encoded: string | undefined; readonly stdout: string; readonly stderr: string; readonly lane?: string; readonly startedAt?: number | undefined }
  | { readonly ok: false; readonly error: Error; readonly stdout: string; readonly stderr: string; readonly lane?: string };

export interface WorkerPoolOptions {
  /** Most worker processes at once; default `os.availableParallelism()`. */
  readonly size?: number;
}

interface Job {
  readonly wire: WireTask;
  readonly bundlePath: string;
  readonly electronName: string;
  readonly done: (outcome: PoolOutcome) => void;
  readonly live: LiveSink | undefined;
  worker: WorkerProcess<Job> | undefined;
  sent: boolean;
  /** Workers killed from outside while they ran it. */
  lostWorkers: number;
}

/**
 * A worker killed from outside (SIGKILL: the OOM killer, an operator, a
 * chaos test; SIGTERM) is not the task's doing, so its tasks start again on
 * another worker, like Dask's `allowed-failures`: up to this many times, then
 * they fail. A worker that exits by itself (process.exit, a crash of node)
 * fails its tasks at once: running them again would do the same.
 */
export const ALLOWED_WORKER_LOSSES = 3;
const FROM_OUTSIDE = new Set<NodeJS.Signals>(["SIGKILL", "SIGTERM"]);

/**
 * Runs tasks in up to `size` worker processes, each sent to the least-loaded
 * worker that holds its bundle. Workers start on demand, tasks travel many to
 * a message, and a worker that dies fails only the tasks it was running
 * (with `WorkerCrashedError`; one killed from outside runs them again, see
 * ALLOWED_WORKER_LOSSES); the next task gets a fresh worker.
 *
 * @example
 * const pool = new WorkerPool({ size: 4 });
 * pool.run({ bundlePath, electronId, electronName: "add", args: encode([1, 2], "args") }, (outcome) => {
 *   // { ok: true, encoded: "3", stdout: "", stderr: "" }
 * });
 */
export class WorkerPool {
  readonly size: number;
  private readonly workerPath = workerMainPath();
  private readonly execArgv = workerExecArgv(this.workerPath);
  private workers: Array<WorkerProcess<Job>> = [];
  /** Every unfinished job, for `cancel`. */
  private readonly jobs = new Map<number, Job>();
  /** Jobs that found no worker: every worker is busy with another bundle. */
  private pending: Job[] = [];
  private nextId = 1;
  private closed = false;
  /**
   * Workers leave when the pool's process does (their IPC channel closes),
   * but one stuck in a task's synchronous loop never sees that: kill them
   * as this process exits.
   */
  private readonly killOnExit = (): void => {
    for (const w of this.workers) w.kill();
  };

  constructor(options: WorkerPoolOptions = {}) {
    const size = options.size ?? availableParallelism();
    // Zero or NaN workers would queue every task forever.
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`WorkerPool size must be a whole number of at least 1, got ${size}`);
    this.size = size;
  }

  /**
   * Starts a task and returns its id (for `cancel`). `done` is called once,
   * when the task finishes, fails, is cancelled or its worker dies; a
   * callback rather than a promise, as the caller usually wraps it in its own.
   */
  run(task: PoolTask, done: (outcome: PoolOutcome) => void): number {
    const id = this.nextId++;
    if (this.closed) {
      done(failed(new TaskCancelledError("the local worker pool is closed")));
      return id;
    }
    const wire: WireTask =
      task.kwargs === undefined
        ? { id, electronId: task.electronId, args: task.args }
        : { id, electronId: task.electronId, args: task.args, kwargs: task.kwargs };
    const job: Job = { wire, bundlePath: task.bundlePath, electronName: task.electronName, done, live: task.live, worker: undefined, sent: false, lostWorkers: 0 };
    this.jobs.set(id, job);
    this.route(job);
    return id;
  }

  /**
   * Stops a task. A running task's worker is killed, the only way to stop
   * synchronous code; the other tasks that worker held start again on
   * another worker. The task's outcome is `reason`.
   */
  cancel(id: number, reason: Error = new TaskCancelledError("task cancelled")): boolean {
    const job = this.jobs.get(id);
    if (!job) return false;
    const worker = job.worker;
    if (!worker) {
      this.pending = this.pending.filter((j) => j !== job);
    } else if (!worker.remove(id)) {
      // It was sent: it may be running. Only killing the process stops it.
      const others = worker.takeAll();
      this.retire(worker);
      for (const other of others) this.reroute(other);
      this.drain();
    } else if (worker.load === 0) {
      this.drain();
    }
    this.finish(job, failed(reason));
    return true;
  }

  /** Starts every worker now instead of on first use, so the first tasks do not wait for start-up. */
  warm(): void {
    while (!this.closed && this.workers.length < this.size) this.spawn();
  }

  /** Live workers, for diagnostics and tests. */
  snapshot(): Array<{ pid: number | undefined; bundle: string | undefined; load: number }> {
    return this.workers.map((w) => ({ pid: w.pid, bundle: w.bundle, load: w.load }));
  }

  /** Kills every worker; unfinished tasks end with `TaskCancelledError`. */
  async close(): Promise<void> {
    this.closed = true;
    process.off("exit", this.killOnExit);
    const reason = new TaskCancelledError("the local worker pool was closed");
    for (const job of [...this.jobs.values()]) this.finish(job, failed(reason));
    this.pending = [];
    const workers = this.workers;
    this.workers = [];
    await Promise.all(
      workers.map((w) => {
        w.takeAll();
        return w.killAndWait();
      }),
    );
  }

  private route(job: Job): void {
    // A worker that dies while the pool closes must not bring its jobs back to life.
    if (this.closed) return this.finish(job, failed(new TaskCancelledError("the local worker pool was closed")));
    const worker = this.pick(job.bundlePath);
    if (!worker) {
      this.pending.push(job);
      return;
    }
    worker.bundle ??= job.bundlePath;
    job.worker = worker;
    worker.add(job);
  }

  /** Least-loaded worker for this bundle; a new one while below `size`; else recycle an idle worker of another bundle. */
  private pick(bundle: string): WorkerProcess<Job> | undefined {
    let best: WorkerProcess<Job> | undefined;
    for (const w of this.workers) {
      if (!w.usable || (w.bundle !== undefined && w.bundle !== bundle)) continue;
      if (!best || w.load < best.load) best = w;
    }
    if (best && best.load === 0) return best;
    if (this.workers.length < this.size) return this.spawn();
    if (best) return best;
    const idle = this.workers.find((w) => w.load === 0 && w.usable);
    if (!idle) return undefined;
    this.retire(idle);
    return this.spawn();
  }

  private spawn(): WorkerProcess<Job> {
    const worker = new WorkerProcess<Job>(this.workerPath, this.execArgv, {
      onDone: (w, m) => this.onDone(w, m),
      onOutput: (w, m) => w.jobs.get(m.output.id)?.live?.(m.output.stream, m.output.text),
      onGone: (w, how) => this.onGone(w, how),
    });
    worker.updateRef();
    worker.lane = `local worker ${this.freeSlot()}`;
    if (this.workers.length === 0) process.off("exit", this.killOnExit).on("exit", this.killOnExit);
    this.workers.push(worker);
    return worker;
  }

  /** The lowest worker number no live worker holds: a replacement worker takes its predecessor's row in the timeline. */
  private freeSlot(): number {
    const taken = new Set(this.workers.map((w) => w.lane));
    let n = 0;
    while (taken.has(`local worker ${n}`)) n++;
    return n;
  }

  private retire(worker: WorkerProcess<Job>): void {
    this.workers = this.workers.filter((w) => w !== worker);
    worker.kill();
  }

  private reroute(job: Job): void {
    job.worker = undefined;
    job.sent = false;
    this.route(job);
  }

  /** Gives waiting jobs another chance: called whenever a worker goes idle or away. */
  private drain(): void {
    if (this.pending.length === 0) return;
    const waiting = this.pending;
    this.pending = [];
    for (const job of waiting) this.route(job);
  }

  private onDone(worker: WorkerProcess<Job>, message: DoneMessage): void {
    for (const result of message.done) {
      const job = worker.jobs.get(result.id);
      // Absent: cancelled, or handed to another worker, meanwhile.
      if (!job) continue;
      worker.jobs.delete(result.id);
      this.finish(job, outcomeOf(result, worker.lane));
    }
    worker.updateRef();
    if (worker.load === 0) this.drain();
  }

  private onGone(worker: WorkerProcess<Job>, how: string): void {
    this.workers = this.workers.filter((w) => w !== worker);
    const jobs = worker.takeAll();
    // A worker that never started would fail the same way again: its jobs fail instead of looping.
    const neverStarted = worker.pid === undefined;
    const running = jobs.filter((j) => j.sent || neverStarted);
    const unsent = jobs.filter((j) => !j.sent && !neverStarted);
    const killed = !neverStarted && worker.signal !== null && FROM_OUTSIDE.has(worker.signal);
    for (const job of running) {
      if (killed && ++job.lostWorkers < ALLOWED_WORKER_LOSSES && this.jobs.has(job.wire.id)) this.reroute(job);
      else this.finish(job, failed(crashError(worker, how, job, running)));
    }
    // Never sent: nothing of them ran, so they may simply go elsewhere.
    for (const job of unsent) this.reroute(job);
    this.drain();
  }

  private finish(job: Job, outcome: PoolOutcome): void {
    if (!this.jobs.delete(job.wire.id)) return;
    job.done(outcome);
  }
}

function failed(error: Error): PoolOutcome {
  return { ok: false, error, stdout: "", stderr: "" };
}

function outcomeOf(r: WireResult, lane: string): PoolOutcome {
  const stdout = r.stdout ?? "";
  const stderr = r.stderr ?? "";
  return r.ok ? { ok: true, encoded: r.value, stdout, stderr, lane, startedAt: r.s } : { ok: false, error: fromWireError(r.error), stdout, stderr, lane };
}

function crashError(worker: WorkerProcess<Job>, how: string, job: Job, running: readonly Job[]): WorkerCrashedError {
  const others = running.length - 1;
  const tail = worker.stderr;
  return new WorkerCrashedError(
    `the local worker process (pid ${worker.pid ?? "?"}) running electron "${job.electronName}" ${how}` +
      (others > 0 ? `; it was also running ${others} other task${others === 1 ? "" : "s"}, which failed with it` : "") +
      (job.lostWorkers >= ALLOWED_WORKER_LOSSES ? `; it was running on each of the ${job.lostWorkers} workers that were killed while it ran, so it is not started again` : "") +
      `. A task that calls process.exit() or crashes node takes its worker down` +
      (tail ? `. The worker's last stderr:\n${tail}` : ""),
  );
}
