/**
 * The server's dispatch runners: one child process per running dispatch,
 * which loads the dispatch's code, so that no user code ever runs in the
 * server. A runner that exits without finishing its dispatch fails the
 * tasks it was running (or leaves them to be retried) and is started again
 * for the rest; one that keeps dying without a task to blame fails the
 * dispatch.
 *
 * Runners are kept warm: a spare one (modules loaded) waits for the next
 * dispatch, and a runner whose dispatch finished stays, idle, for the next
 * dispatch of the same bundle from the same directory (the user running
 * their script again), with its engine, store connection, imported bundle
 * and local workers ready. Still one dispatch per runner at a time, so a
 * crash or a kill costs only that dispatch's running tasks.
 *
 * A dispatch taken over from another team server, perhaps on another
 * machine, has its code bundles fetched from the team's database into this
 * data dir before its runner starts (the runner finds them there: see
 * engine/local-paths.ts); one the database lacks too fails the dispatch.
 */
import { fork, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { DispatchId } from "../ids.js";
import { isTerminal } from "../status.js";
import type { FromRunner, ToRunner } from "../engine/runner/protocol.js";
import { runnerCommand } from "../engine/runner/runner-path.js";
import type { Store } from "../engine/store/store.js";
import type { EventHub } from "./event-hub.js";
import { isOwnerToken, ownerAlive, ownerProcess } from "../engine/locks/owner-lock.js";
import { isRunning } from "../engine/locks/process-identity.js";
import type { DispatchRecord } from "../engine/store/records.js";
import { resultsDirHere } from "../engine/local-paths.js";
import { prepareTakeOver } from "./take-over.js";
import { Bundles } from "./bundles.js";
import { killedFromOutside, RunnerLosses, type LateTask } from "./runner-losses.js";
import { killGroup, stopStaleRunner, tail } from "./runner-processes.js";
import type { Observation, RunObserver } from "../engine/observe/observation.js";

interface Runner {
  readonly child: ChildProcess;
  /** Where its output goes: the log of the dispatch it runs. */
  logFile: string;
  /** The top-level dispatch it runs now; undefined while spare or idle. */
  current: DispatchId | undefined;
  /** Bundle and directory of the dispatches it has loaded (see `reuseKey`); undefined for a spare. */
  key: string | undefined;
  finished: boolean;
  lastBeat: number;
  /** Set when the supervisor stopped it: the tasks that ran past their timeout while blocking it. */
  timedOut?: readonly LateTask[];
  /** A dispatch of the same bundle it runs as soon as it says "idle". */
  next?: { readonly id: DispatchId; readonly logFile: string };
}

/** Idle runners kept for later dispatches; the oldest goes beyond this. */
const MAX_IDLE_RUNNERS = 2;

/** A runner silent this long has its event loop blocked (its beat is every BEAT_MS). */
const SILENT_MS = 3000;
/** Leeway past a task's timeout before its blocked runner is stopped. */
const TIMEOUT_GRACE_MS = 1000;

export interface SupervisorOptions {
  readonly store: Store;
  readonly hub: EventHub;
  readonly log: (line: string) => void;
  /** Environment for runners: the server's, with its data dir pinned. */
  readonly env: NodeJS.ProcessEnv;
  /** Where bundles are fetched from for a dispatch taken over (default: the store's data dir and cluster). */
  readonly bundles?: Bundles;
  /** Hears what the runners observed (their runs, their store writes): the server's metrics and traces. */
  readonly observer?: RunObserver;
}

/** The server's runner processes by what they do: the pool behind its dispatches. */
export interface RunnerPool {
  /** Running a dispatch. */
  readonly busy: number;
  /** Finished one, waiting, warm, for another of the same bundle. */
  readonly idle: number;
  /** Started ahead, modules loaded, for the next dispatch (0 or 1). */
  readonly spare: number;
}

/** A start `fromAnotherServer` that fails (the database unreachable) is tried this many times in all, the waits doubling from a second. */
const ELSEWHERE_TRIES = 5;

export interface StartOptions {
  /**
   * A dispatch another team server received or drove, perhaps on another machine (taken
   * over, or a redispatch here of one it ran): its owners on other machines are let go of,
   * and its code bundles this machine lacks are fetched from the team's database, first.
   */
  readonly fromAnotherServer?: boolean;
}

export class Supervisor {
  private readonly runners = new Map<DispatchId, Runner>();
  /** Sublattice runs report under their own ids: which top-level dispatch's runner has them. */
  private readonly ownerOf = new Map<DispatchId, DispatchId>();
  private readonly losses: RunnerLosses;
  private spare: Runner | undefined;
  /** Runners whose dispatch finished, oldest first, waiting for another of the same bundle. */
  private readonly idle: Runner[] = [];
  private stopping = false;
  /** A watchdog check is reading the store. */
  private checking = false;
  private readonly watchdog: NodeJS.Timeout;
  readonly bundles: Bundles;

  constructor(private readonly opts: SupervisorOptions) {
    this.losses = new RunnerLosses(opts.store);
    this.bundles = opts.bundles ?? new Bundles(opts.store.dataDir, opts.store.cluster);
    this.watchdog = setInterval(() => {
      // One check at a time: a slow store must not stack them up.
      if (this.checking) return;
      this.checking = true;
      this.checkBlocked()
        .catch((error: unknown) => this.opts.log(`watchdog: cannot read the store: ${(error as Error).message}`))
        .finally(() => (this.checking = false));
    }, 1000);
    this.watchdog.unref();
  }

  /** Dispatches with a live runner. */
  get running(): number {
    return this.runners.size;
  }

  /** Its runner processes now, by what they do (a runner given a dispatch queued behind another's end counts once). */
  pool(): RunnerPool {
    const busy = new Set([...this.runners.values()].filter((r) => r.child.exitCode === null)).size;
    return { busy, idle: this.idle.length, spare: this.spare && this.spare.child.exitCode === null ? 1 : 0 };
  }

  /** Whether the runner with this pid waits, idle, for another dispatch of its bundle. */
  isIdle(pid: number): boolean {
    return this.idle.some((r) => r.child.pid === pid);
  }

  isRunning(id: DispatchId): boolean {
    return this.runners.has(this.ownerOf.get(id) ?? id);
  }

  /**
   * Starts (or restarts) the runner of top-level dispatch `id`. Never rejects: a store
   * that cannot be read is logged, and the dispatch resumes at the next start.
   */
  async start(id: DispatchId, opts: StartOptions = {}, tries = 0): Promise<void> {
    if (this.stopping || this.runners.has(id) || this.starting.has(id)) return;
    this.starting.add(id);
    try {
      await this.startNow(id, opts);
    } catch (error) {
      this.opts.log(`dispatch ${id}: cannot start its runner: ${(error as Error).message}`);
      // No other server will start it (this one claimed it), so this one tries again: the database may be back.
      if (opts.fromAnotherServer && tries + 1 < ELSEWHERE_TRIES && !this.stopping) {
        const wait = 1000 * 2 ** tries;
        this.opts.log(`dispatch ${id}: trying again in ${wait} ms`);
        setTimeout(() => void this.start(id, opts, tries + 1), wait).unref();
      }
    } finally {
      this.starting.delete(id);
    }
  }

  /** Dispatches whose start is reading the store: a second start of one waits for nothing. */
  private readonly starting = new Set<DispatchId>();

  private async startNow(id: DispatchId, opts: StartOptions): Promise<void> {
    const d = await this.opts.store.getDispatch(id);
    if (!d || isTerminal(d.status)) return;
    if (opts.fromAnotherServer && !(await prepareTakeOver(d, { store: this.opts.store, bundles: this.bundles, hub: this.opts.hub, log: this.opts.log }))) return;
    const key = reuseKey(d);
    // Its last dispatch is stored as finished but the runner has not said "idle" yet (the
    // client read the result first): it takes this one next, instead of a cold start.
    const finishing = await this.finishingRunner(key);
    if (this.stopping || this.runners.has(id)) return;
    // That of the server that received it, or (taken over from another machine) one in this data dir.
    const resultsDir = resultsDirHere(d.resultsDir, this.opts.store.dataDir);
    mkdirSync(resultsDir, { recursive: true });
    const logFile = join(resultsDir, "runner.log");
    if (finishing) {
      finishing.next = { id, logFile };
      this.runners.set(id, finishing);
      this.ownerOf.set(id, id);
      return;
    }
    let runner = this.takeIdle(key) ?? this.takeSpare();
    if (runner) {
      runner.logFile = logFile;
      const message: ToRunner = { type: "run", dispatchId: id, cwd: d.cwd };
      runner.child.send(message);
    } else {
      // Relative paths in the user's code mean what they meant where it was dispatched.
      runner = this.fork([id], existsSync(d.cwd) ? d.cwd : resultsDir, logFile);
    }
    Object.assign(runner, { current: id, key, finished: false, timedOut: undefined });
    this.runners.set(id, runner);
    this.ownerOf.set(id, id);
    this.opts.log(`runner pid ${runner.child.pid} started for ${id}`);
    this.keepSpare();
  }

  /**
   * A runner whose modules are already loaded, waiting for a dispatch: it
   * saves the next dispatch the runner's start-up. One is kept at all times.
   */
  keepSpare(): void {
    if (this.stopping || this.spare) return;
    this.spare = this.fork([], this.opts.store.dataDir, join(this.opts.store.dataDir, "runner-spare.log"));
  }

  private takeSpare(): Runner | undefined {
    const spare = this.spare;
    this.spare = undefined;
    if (!spare || !spare.child.connected || spare.child.exitCode !== null) return undefined;
    return spare;
  }

  /** A runner of this bundle whose dispatch is stored as finished, with nothing queued for it yet. */
  private async finishingRunner(key: string | undefined): Promise<Runner | undefined> {
    if (key === undefined) return undefined;
    for (const [id, r] of [...this.runners]) {
      if (r.key !== key || r.next || r.current !== id || !r.child.connected) continue;
      const status = (await this.opts.store.getDispatch(id))?.status;
      // Checked again after the read: the runner may have been handed another meanwhile.
      if (status && isTerminal(status) && !r.next && r.current === id && r.child.connected) return r;
    }
    return undefined;
  }

  /** An idle runner that already loaded this bundle from this directory. */
  private takeIdle(key: string | undefined): Runner | undefined {
    if (key === undefined) return undefined;
    const i = this.idle.findIndex((r) => r.key === key && r.child.connected && r.child.exitCode === null);
    if (i < 0) return undefined;
    return this.idle.splice(i, 1)[0];
  }

  /** Gives the runner the dispatch queued for it. */
  private async handOver(runner: Runner, next: NonNullable<Runner["next"]>): Promise<void> {
    runner.next = undefined;
    const d = await this.opts.store.getDispatch(next.id).catch(() => undefined);
    if (!runner.child.connected) {
      // It exited while the store was read: the dispatch gets a runner of its own.
      this.runners.delete(next.id);
      this.ownerOf.delete(next.id);
      return this.start(next.id);
    }
    if (!d || isTerminal(d.status)) {
      this.runners.delete(next.id);
      this.ownerOf.delete(next.id);
      return this.toIdle(runner);
    }
    Object.assign(runner, { current: next.id, logFile: next.logFile, finished: false, timedOut: undefined });
    const message: ToRunner = { type: "run", dispatchId: next.id, cwd: d.cwd };
    runner.child.send(message);
    this.opts.log(`runner pid ${runner.child.pid} started for ${next.id}`);
  }

  /** Its dispatch finished: the runner waits for another of the same bundle (it exits by itself when idle long). */
  private toIdle(runner: Runner): void {
    runner.current = undefined;
    runner.logFile = join(this.opts.store.dataDir, "runner-idle.log");
    this.idle.push(runner);
    while (this.idle.length > MAX_IDLE_RUNNERS) killGroup(this.idle.shift()?.child.pid, "SIGKILL");
  }

  private fork(args: string[], cwd: string, logFile: string): Runner {
    const { file, execArgv } = runnerCommand();
    const child = fork(file, args, {
      cwd,
      env: this.opts.env,
      execArgv,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      // Its own process group: stopping it stops the worker processes it started too.
      detached: true,
    });
    const runner: Runner = { child, logFile, current: undefined, key: undefined, finished: false, lastBeat: Date.now() };
    // Its output goes to the log of whichever dispatch it runs at the moment.
    const write = (chunk: Buffer) => {
      try {
        appendFileSync(runner.logFile, chunk);
      } catch {
        /* a results dir removed under us: the output has nowhere to go */
      }
    };
    child.stdout?.on("data", write);
    child.stderr?.on("data", write);
    child.on("error", (error) => this.opts.log(`runner pid ${child.pid}: ${error.message}`));
    child.on("message", (m: FromRunner) => {
      if (m.type === "beat") runner.lastBeat = Date.now();
      // Even from a runner between dispatches: its last run's teardown writes are timed too.
      else if (m.type === "observed") this.observed(m.observations);
      else if (runner.current) this.onMessage(runner.current, runner, m);
    });
    // "close", not "exit": by then its last words are in the log, for the crash report.
    child.on("close", (code, signal) => {
      if (this.spare === runner) this.spare = undefined;
      const idle = this.idle.indexOf(runner);
      if (idle >= 0) this.idle.splice(idle, 1);
      if (runner.current) void this.onExit(runner.current, runner, code, signal);
      const next = runner.next;
      runner.next = undefined;
      if (next && this.runners.get(next.id) === runner) {
        this.runners.delete(next.id);
        this.ownerOf.delete(next.id);
        void this.start(next.id);
      }
    });
    return runner;
  }

  /** Sends a cancel to the runner that has dispatch `id`; false if none has it. */
  cancel(id: DispatchId, nodes?: readonly number[]): boolean {
    const top = this.ownerOf.get(id) ?? id;
    const runner = this.runners.get(top);
    if (!runner || !runner.child.connected) return false;
    const message: ToRunner = nodes ? { type: "cancel", dispatchId: id, nodes } : { type: "cancel", dispatchId: id };
    runner.child.send(message);
    return true;
  }

  /**
   * Resumes every unfinished top-level dispatch whose owner is gone: what a
   * server does when it starts. A runner left over from a server that was
   * killed is stopped first, so one dispatch never has two; a dispatch a live
   * embedded process runs is left to it.
   */
  async resumeAll(): Promise<number> {
    const unfinished = (await this.opts.store.unfinishedDispatches()).filter((d) => d.parentId === null);
    let resumed = 0;
    for (const d of unfinished) {
      if (await this.ownedElsewhere(d)) {
        this.opts.log(`not resuming ${d.id} (${d.name}): process ${d.ownerPid} runs it, and it is not a runner of a previous server`);
        continue;
      }
      this.opts.log(`resuming ${d.id} (${d.name}, ${d.status})`);
      await this.start(d.id);
      resumed++;
    }
    return resumed;
  }

  /**
   * Starts a dispatch taken over from a team server whose lease ran out. A runner of
   * that server's still alive on this host (its lock lives in that server's data dir)
   * is stopped first, so the dispatch never has two.
   */
  async takeOver(id: DispatchId, previousDataDir: string | undefined): Promise<void> {
    const d = await this.opts.store.getDispatch(id);
    if (!d || isTerminal(d.status)) return;
    if (previousDataDir && (await this.ownedElsewhere(d, previousDataDir))) {
      this.opts.log(`not taking over ${id}: process ${d.ownerPid} runs it, and it is not a runner of the server that drove it`);
      return;
    }
    this.opts.log(`taking over ${id} (${d.name}, ${d.status})`);
    // That server may have been on another machine: its runners' ownership and its bundles are seen to first.
    await this.start(id, { fromAnotherServer: true });
  }

  /**
   * Whether a live process other than a leftover runner owns `d`. A leftover
   * runner (it exits by itself once it notices its server is gone, unless a
   * task blocks it) is stopped here and its lock waited for. The lock is looked
   * for in `dataDir`: this server's, or that of the team server that ran it.
   */
  private async ownedElsewhere(d: DispatchRecord, dataDir = this.opts.store.dataDir): Promise<boolean> {
    if (d.ownerHost !== hostname()) return false;
    if (!isOwnerToken(d.ownerLock)) {
      // A row from before owner locks: only the pid to go by.
      if (d.ownerPid !== null && d.ownerPid !== process.pid) await stopStaleRunner({ pid: d.ownerPid, startTicks: undefined }, () => isRunning({ pid: d.ownerPid as number, startTicks: undefined }));
      return false;
    }
    const token = d.ownerLock;
    if (!ownerAlive(dataDir, token)) return false;
    await stopStaleRunner(ownerProcess(token), () => ownerAlive(dataDir, token));
    return ownerAlive(dataDir, token);
  }

  /** Stops every runner; their dispatches stay unfinished in the store and resume at the next start. */
  async stopAll(graceMs = 5000): Promise<void> {
    this.stopping = true;
    clearInterval(this.watchdog);
    const exits = [...this.runners.values()].map(
      (r) => new Promise<void>((resolve) => (r.child.exitCode !== null || r.child.signalCode !== null ? resolve() : r.child.once("exit", () => resolve()))),
    );
    for (const r of this.runners.values()) killGroup(r.child.pid, "SIGTERM");
    for (const r of [this.spare, ...this.idle.splice(0)]) killGroup(r?.child.pid, "SIGKILL");
    this.spare = undefined;
    const timer = setTimeout(() => {
      for (const r of this.runners.values()) killGroup(r.child.pid, "SIGKILL");
    }, graceMs);
    await Promise.all(exits);
    clearTimeout(timer);
  }

  /**
   * A task that blocks its runner's event loop (a synchronous endless loop)
   * cannot be stopped from inside. When a silent runner's running task is
   * past its `timeout`, the runner is stopped from here; the task fails with
   * a TaskTimeoutError and the others that were running run again.
   */
  private async checkBlocked(): Promise<void> {
    const now = Date.now();
    for (const [id, runner] of [...this.runners]) {
      if (runner.finished || runner.timedOut || now - runner.lastBeat < SILENT_MS) continue;
      const late: Array<{ dispatchId: DispatchId; node: number; timeoutMs: number }> = [];
      for (const d of [id, ...(await this.opts.store.childDispatches(id)).map((c) => c.id)]) {
        for (const n of await this.opts.store.getNodes(d)) {
          if (n.status === "RUNNING" && n.timeoutMs !== null && n.startedAt !== null && now - n.startedAt > n.timeoutMs + TIMEOUT_GRACE_MS) {
            late.push({ dispatchId: d, node: n.nodeId, timeoutMs: n.timeoutMs });
          }
        }
      }
      if (!late.length) continue; // busy with a long synchronous task that has no timeout: its right
      // It may have moved on while the store was read.
      if (runner.finished || runner.timedOut || this.runners.get(id) !== runner || Date.now() - runner.lastBeat < SILENT_MS) continue;
      runner.timedOut = late;
      this.opts.log(`runner for ${id} is blocked by a task past its timeout; stopping it`);
      killGroup(runner.child.pid, "SIGKILL");
    }
  }

  private observed(observations: readonly Observation[]): void {
    const observer = this.opts.observer;
    if (!observer) return;
    for (const o of observations) {
      try {
        observer.observe(o);
      } catch (error) {
        this.opts.log(`metrics: cannot record an observation: ${(error as Error).message}`);
      }
    }
  }

  private onMessage(id: DispatchId, runner: Runner, m: FromRunner): void {
    switch (m.type) {
      case "observed":
        this.observed(m.observations);
        break;
      case "beat":
        runner.lastBeat = Date.now();
        break;
      case "idle":
        // Its dispatch is done and its executors torn down; it stays for another of the same bundle.
        if (!runner.finished) break;
        this.finished(id, runner);
        if (this.stopping) killGroup(runner.child.pid, "SIGKILL");
        else if (runner.next) void this.handOver(runner, runner.next);
        else this.toIdle(runner);
        break;
      case "change":
        this.ownerOf.set(m.change.dispatchId, id);
        this.opts.hub.publish(m.change);
        break;
      case "load-failed":
        runner.finished = true;
        this.opts.log(`dispatch ${id} could not be loaded: ${m.message}`);
        break;
      case "done":
        runner.finished = true;
        this.opts.log(`dispatch ${id} ${m.status}`);
        break;
    }
  }

  /** The runner no longer has dispatch `id` (it ended, or the runner did). */
  private forget(id: DispatchId, runner: Runner): void {
    if (this.runners.get(id) === runner) this.runners.delete(id);
    runner.current = undefined;
    for (const [child, top] of this.ownerOf) if (top === id) this.ownerOf.delete(child);
  }

  /** Dispatch `id` ended in its runner (which may go on to another): its crash counts go too. */
  private finished(id: DispatchId, runner: Runner): void {
    this.forget(id, runner);
    this.losses.forget(id);
  }

  private async onExit(id: DispatchId, runner: Runner, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (this.stopping || runner.finished) return this.finished(id, runner);
    this.forget(id, runner);
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    this.opts.log(`runner for ${id} ${how} before the dispatch finished`);
    try {
      const outcome = runner.timedOut
        ? await this.losses.afterTimeout(id, runner.timedOut)
        : await this.losses.afterCrash(id, how, tail(runner.logFile), killedFromOutside(signal));
      const { at, changes, dispatchError } = outcome;
      if (changes.length) this.opts.hub.publish({ dispatchId: id, at, nodes: changes });
      if (dispatchError === undefined) return this.start(id);
      await this.opts.store.write((w) => w.dispatchStatus(id, "FAILED", at, { error: dispatchError, ended: true }));
      this.opts.hub.publish({ dispatchId: id, at, nodes: [], status: "FAILED" });
    } catch (error) {
      this.opts.log(`dispatch ${id}: cannot recover from the runner's exit: ${(error as Error).message}`);
    }
  }

}

/** Runners are reused only for dispatches of the same bundle from the same directory. */
function reuseKey(d: DispatchRecord): string | undefined {
  return d.bundlePath === null ? undefined : JSON.stringify([d.bundlePath, d.cwd]);
}

