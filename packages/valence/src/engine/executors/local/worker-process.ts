/**
 * One forked worker as the pool sees it: the child process, the tasks it
 * holds, its outgoing batch, and whether it may keep the parent alive.
 */
import { fork, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import type { DoneMessage, OutputMessage, RunMessage, WorkerMessage, WireTask } from "./protocol.js";

const BATCH = 1000;
/** How much of a worker's stray stderr is kept, to explain a crash. */
const STDERR_TAIL = 4096;
/**
 * After `exit`, results the worker sent just before dying may still be in the
 * pipe; `close` says they were read. A grandchild holding the worker's stdio
 * open would delay `close` forever, hence the bound.
 */
const CLOSE_GRACE_MS = 500;

/** What the pool tracks per task; the worker only needs these two fields. */
export interface WorkerJob {
  readonly wire: WireTask;
  /** Handed to the child: from then on it may be running. */
  sent: boolean;
}

export interface WorkerEvents<Job extends WorkerJob> {
  onDone(worker: WorkerProcess<Job>, message: DoneMessage): void;
  /** A running job's output chunk. */
  onOutput(worker: WorkerProcess<Job>, message: OutputMessage): void;
  /** Called once, when the process is gone (or could not start) and its output has been read. */
  onGone(worker: WorkerProcess<Job>, how: string): void;
}

export class WorkerProcess<Job extends WorkerJob> {
  readonly child: ChildProcess;
  /** The only bundle this worker runs: bundles register electrons in one process-global registry, so two would collide. */
  bundle: string | undefined;
  /** Its row in the dashboard's timeline, "local worker N": N is the lowest slot no live worker of its pool holds (set by the pool). */
  lane = "local worker 0";
  /** Tasks given to this worker and not finished: sent, or waiting in `outbox`. */
  readonly jobs = new Map<number, Job>();
  private outbox: Job[] = [];
  private flushScheduled = false;
  private refed = true;
  private stderrTail = "";
  /** `retired` workers were killed on purpose; their jobs were already dealt with. */
  state: "alive" | "retired" | "gone" = "alive";
  /** The signal that ended the process, once it has exited (null if it exited by itself). */
  signal: NodeJS.Signals | null = null;

  constructor(path: string, execArgv: string[], private readonly events: WorkerEvents<Job>) {
    this.child = fork(path, [], {
      execArgv,
      // Output outside a task (the module's top level, node warnings) is not a
      // task's: stdout is dropped (the user's own process printed it already),
      // stderr is kept as a tail for crash messages.
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      serialization: "advanced",
    });
    this.child.stdout?.resume();
    this.child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL);
    });
    this.child.on("message", (m: WorkerMessage) => ("done" in m ? this.events.onDone(this, m) : this.events.onOutput(this, m)));
    this.child.on("error", (error) => {
      // Spawn failed (no pid) or the channel broke; either way no result will come.
      if (this.child.pid === undefined || !this.child.connected) this.gone(`could not be started or reached: ${error.message}`);
    });
    this.child.on("exit", (code, signal) => {
      this.signal = signal;
      const how = code !== null ? `exited with code ${code}` : `was killed by ${signal ?? "a signal"}`;
      const timer = setTimeout(() => this.gone(how), CLOSE_GRACE_MS);
      timer.unref();
      this.child.once("close", () => {
        clearTimeout(timer);
        this.gone(how);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Can take tasks: not killed, and its channel still open (it closes at exit, before `close` arrives). */
  get usable(): boolean {
    return this.state === "alive" && this.child.connected;
  }

  get load(): number {
    return this.jobs.size;
  }

  /** The last few KB the worker wrote to stderr outside any task. */
  get stderr(): string {
    return this.stderrTail.trim();
  }

  /**
   * Queues a job; what is queued in one event-loop turn goes in one message,
   * or in several of `BATCH` when the turn queues many, so the worker starts
   * on the first ones while the rest are being queued.
   */
  add(job: Job): void {
    this.jobs.set(job.wire.id, job);
    this.outbox.push(job);
    this.updateRef();
    if (this.outbox.length >= BATCH) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Removes a job; true when it had not been sent yet. */
  remove(id: number): boolean {
    const job = this.jobs.get(id);
    if (!job) return false;
    this.jobs.delete(id);
    const i = this.outbox.indexOf(job);
    if (i >= 0) this.outbox.splice(i, 1);
    this.updateRef();
    return i >= 0;
  }

  /** Takes every job away (for a retired or dead worker), sent or not. */
  takeAll(): Job[] {
    const all = [...this.jobs.values()];
    this.jobs.clear();
    this.outbox = [];
    this.updateRef();
    return all;
  }

  kill(): void {
    this.state = "retired";
    this.child.kill("SIGKILL");
  }

  /** Kills the process and resolves once it is gone; the wait keeps the parent alive, as a caller awaiting it expects. */
  killAndWait(): Promise<void> {
    const { child } = this;
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      this.state = "retired";
      return Promise.resolve();
    }
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    this.kill();
    child.ref();
    return exited;
  }

  /**
   * An idle worker must not keep the user's script alive after its dispatch
   * is done; a busy one must, or the script would exit mid-dispatch.
   */
  updateRef(): void {
    const want = this.jobs.size > 0 && this.state === "alive";
    if (want === this.refed) return;
    this.refed = want;
    const m = want ? "ref" : "unref";
    this.child[m]();
    this.child.channel?.[m]();
    (this.child.stdout as Socket | null)?.[m]?.();
    (this.child.stderr as Socket | null)?.[m]?.();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outbox.length === 0 || this.state !== "alive" || !this.child.connected || this.bundle === undefined) return;
    const batch = this.outbox;
    this.outbox = [];
    const message: RunMessage = { bundlePath: this.bundle, run: batch.map((j) => j.wire) };
    for (const j of batch) j.sent = true;
    // A send that fails means the worker is dying; its exit handler fails the jobs.
    this.child.send(message, (error) => void error);
  }

  private gone(how: string): void {
    if (this.state === "gone") return;
    const wasAlive = this.state === "alive";
    this.state = "gone";
    this.updateRef();
    if (wasAlive) this.events.onGone(this, how);
  }
}
