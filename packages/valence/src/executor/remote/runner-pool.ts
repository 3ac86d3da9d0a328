/**
 * Persistent task runners for one place (an SSH host, a Slurm allocation, a
 * test's local machine): runners are started per code bundle, fed many
 * tasks each, and kept until idle, so a task costs a line each way instead
 * of a node process.
 *
 * - At most `maxRunners` run at once (each holds a channel, a process); a
 *   task for a bundle with no free runner starts one, or replaces an idle
 *   runner of another bundle, or waits.
 * - A runner runs up to `tasksPerRunner` tasks at once.
 * - A task that takes its runner down (process.exit, a crash, out of memory)
 *   fails alone: the runner is dropped and the next task starts a new one.
 * - Cancel kills the runner's process group, which is the only way to stop
 *   a task's code for certain; the other tasks that were in it are sent
 *   again to another runner (they did not fail, they were interrupted).
 */
import type { LiveSink } from "../capture.js";
import { abortError } from "../abort-error.js";
import { onAbort } from "../abort-watch.js";
import type { RunnerOutcome, RunnerSession } from "./runner-session.js";

/** A runner process the pool started, as its place reports it. */
export interface LaunchedRunner {
  readonly session: RunnerSession;
  /** Kills the runner and everything it started (its process group). Resolves once the kill was sent. */
  kill(): Promise<void>;
  /** Called with true while the runner has tasks, false while idle: an idle runner must not keep this process alive. */
  hold?(busy: boolean): void;
}

export interface RunnerPoolOptions {
  /** Starts a runner for tasks of `kind` (the bundle's path from the place's working directory, unless `submit` named another kind). */
  readonly launch: (kind: string) => LaunchedRunner;
  readonly maxRunners: number;
  readonly tasksPerRunner: number;
  /** An idle runner exits after this long. Default 60 s. */
  readonly idleMs?: number;
}

/** One task given to the pool. */
export interface PooledTask {
  /** Its outcome; "runner ended" when its own runner went down under it. Never rejects. */
  readonly outcome: Promise<RunnerOutcome>;
  /** The task was sent to a runner: its code may be running. */
  readonly started: boolean;
  /** Stops the task: takes it out of the queue, or kills its runner. Resolves once the runner is gone (or after a while). */
  cancel(): Promise<void>;
}

interface PoolRunner {
  /** What the runner was started for: tasks of this kind only go to it. */
  readonly kind: string;
  readonly launched: LaunchedRunner;
  busy: number;
  /** Dropped from the pool: no new tasks. */
  retired: boolean;
  /** Killed for a cancel; the tasks it held besides the cancelled one go again. */
  killedFor?: object;
  idleTimer?: NodeJS.Timeout;
  /** Resolves when the runner's session ended. */
  readonly gone: Promise<void>;
}

/** How often a task is sent again after other tasks' cancels killed its runner. */
const MAX_RESENDS = 3;
/** How long cancel waits for the killed runner to be gone. */
const CANCEL_WAIT_MS = 5000;
const DEFAULT_IDLE_MS = 60_000;

export class RunnerPool {
  private readonly runners: PoolRunner[] = [];
  private readonly waiters = new Set<() => void>();
  private closed = false;

  constructor(private readonly options: RunnerPoolOptions) {}

  /** Runners alive now, by bundle (for tests and diagnostics). */
  get size(): number {
    return this.runners.length;
  }

  /** Runners started since the pool was made. */
  launches = 0;

  /**
   * Runs `taskJson` from `bundle` on a runner of `kind` (default: the
   * bundle; a pool shared by several places names the place too), which
   * `launch(kind)` starts.
   */
  submit(bundle: string, taskJson: string, kind = bundle, live?: LiveSink): PooledTask {
    const cancel = new AbortController();
    const state = { started: false, runner: undefined as PoolRunner | undefined };
    const outcome = this.drive(kind, bundle, taskJson, cancel.signal, state, live);
    return {
      outcome,
      get started() {
        return state.started;
      },
      cancel: async () => {
        if (cancel.signal.aborted) return;
        cancel.abort();
        const runner = state.runner;
        if (!runner) return;
        runner.killedFor = state;
        this.retire(runner);
        await runner.launched.kill().catch(() => {});
        await Promise.race([runner.gone, sleep(CANCEL_WAIT_MS)]);
      },
    };
  }

  /**
   * Ends one idle runner, if there is one, to free what it holds (an SSH
   * channel another task waits for). Returns whether it did.
   */
  retireIdle(): boolean {
    const idle = this.runners.find((r) => r.busy === 0);
    if (idle) this.retire(idle);
    return idle !== undefined;
  }

  /** Ends every runner (closing its stdin); tasks still in them end as "runner ended". */
  close(): void {
    this.closed = true;
    for (const runner of [...this.runners]) this.retire(runner);
    this.wake();
  }

  private async drive(
    kind: string,
    bundle: string,
    taskJson: string,
    signal: AbortSignal,
    state: { started: boolean; runner: PoolRunner | undefined },
    live: LiveSink | undefined,
  ): Promise<RunnerOutcome> {
    for (let resends = 0; ; resends++) {
      let runner: PoolRunner;
      try {
        runner = await this.acquire(kind, signal);
      } catch (error) {
        return { kind: "runner ended", reason: (error as Error).message, exit: { code: null, error: error as Error }, stderrTail: "" };
      }
      state.runner = runner;
      let outcome: RunnerOutcome;
      try {
        const session = runner.launched.session;
        try {
          await session.ready;
          if (signal.aborted) return { kind: "runner ended", reason: "cancelled", exit: { code: null }, stderrTail: "" };
          state.started = true;
          outcome = await session.run(bundle, taskJson, live);
        } catch (error) {
          outcome = { kind: "runner ended", reason: (error as Error).message, exit: { code: null, error: error as Error }, stderrTail: session.stderrTail() };
        }
      } finally {
        this.release(runner);
        state.runner = undefined;
      }
      const interrupted = outcome.kind === "runner ended" && runner.killedFor !== undefined && runner.killedFor !== state && !signal.aborted;
      if (!interrupted || resends >= MAX_RESENDS) return outcome;
    }
  }

  /** A runner of `kind` with room for one more task, started if need be; waits while the pool is full. */
  private async acquire(kind: string, signal: AbortSignal): Promise<PoolRunner> {
    for (;;) {
      if (signal.aborted) throw abortError(signal);
      if (this.closed) throw new Error("the runner pool was closed");
      const free = this.runners.find((r) => r.kind === kind && !r.retired && r.busy < this.options.tasksPerRunner);
      if (free) return this.take(free);
      if (this.runners.length < this.options.maxRunners) return this.take(this.start(kind));
      const idle = this.runners.find((r) => r.busy === 0);
      if (idle) {
        this.retire(idle);
        continue;
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.waiters.delete(wake);
          unwatch();
          resolve();
        };
        const unwatch = onAbort(signal, wake);
        this.waiters.add(wake);
      });
    }
  }

  private start(kind: string): PoolRunner {
    const launched = this.options.launch(kind);
    this.launches++;
    let ended!: () => void;
    const gone = new Promise<void>((resolve) => (ended = resolve));
    const runner: PoolRunner = { kind, launched, busy: 0, retired: false, gone };
    this.runners.push(runner);
    void launched.session.done.then(() => {
      this.drop(runner);
      ended();
    });
    return runner;
  }

  private take(runner: PoolRunner): PoolRunner {
    if (runner.busy++ === 0) runner.launched.hold?.(true);
    if (runner.idleTimer) clearTimeout(runner.idleTimer);
    runner.idleTimer = undefined;
    return runner;
  }

  private release(runner: PoolRunner): void {
    if (--runner.busy === 0) {
      runner.launched.hold?.(false);
      if (!runner.retired) {
        runner.idleTimer = setTimeout(() => this.retire(runner), this.options.idleMs ?? DEFAULT_IDLE_MS);
        runner.idleTimer.unref();
      }
    }
    this.wake();
  }

  /** Takes `runner` out of the pool and closes its stdin (it exits when it reads the EOF). */
  private retire(runner: PoolRunner): void {
    if (runner.idleTimer) clearTimeout(runner.idleTimer);
    this.drop(runner);
    runner.launched.session.close();
  }

  private drop(runner: PoolRunner): void {
    runner.retired = true;
    const i = this.runners.indexOf(runner);
    if (i >= 0) this.runners.splice(i, 1);
    this.wake();
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
