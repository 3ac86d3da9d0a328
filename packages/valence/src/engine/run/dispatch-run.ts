/**
 * The I/O shell around the scheduler for one dispatch.
 *
 * Events (a task finished, a cancel) are queued and handled once per
 * event-loop turn: the turn feeds them to the pure `transition`, writes every
 * resulting state change to the store in one transaction, and only then acts
 * (starts tasks, aborts them, finishes the dispatch). A dispatcher killed at
 * any moment therefore leaves a store it can resume from.
 */
import { encode } from "../../codec/index.js";
import { StoreError, TaskCancelledError, TaskTimeoutError } from "../../errors.js";
import type { Executor } from "../../executor/executor.js";
import type { TaskFunction, TaskOutcome } from "../../executor/task.js";
import { asNodeId, type CacheKey, type DispatchId, type ElectronId } from "../../ids.js";
import { cacheKey, expiresAt } from "./result-cache.js";
import { initialState, transition, type Effect, type FinalStatus, type SchedulerEvent, type SchedulerState } from "../scheduler/transitions.js";
import type { CompletedNode, StoreWrites } from "../store/store.js";
import type { DispatchEnd, DispatchRunInit, NodeChange, PreparedNode } from "./run-types.js";
import { encodeError, notRunError } from "./stored-error.js";
import { access, electronArgs, fillCollection, sourceValue, type InEdge } from "./node-inputs.js";
import { LazyAbort } from "./lazy-abort.js";
import { RunningTask } from "./running-task.js";
import { RetryTimers } from "./retry-timers.js";
import { DEFAULT_OUTPUT_LIMIT } from "../config/load-config.js";
import { capOutput, LiveOutput } from "./live-output.js";
import { UnwrittenRunning } from "./unwritten-running.js";
import { NodeValues } from "./node-values.js";
import { dispatchOutcome } from "./dispatch-end.js";
import { toError } from "../../values.js";
import { trimStack } from "./stack.js";
import type { OutputStream } from "../../executor/capture.js";
import type { NodeEnded, Observation } from "../observe/observation.js";

const NO_EDGES: InEdge[] = [];

interface Queued {
  readonly event: SchedulerEvent;
  /** Store write for a completion/failure; runs in the turn's transaction if the transition accepts it. */
  readonly outcome?: TaskOutcome & { encoded?: string; cacheKey?: CacheKey } & Pick<CompletedNode, "cachedFrom">;
}

export class DispatchRun {
  readonly id: DispatchId;
  readonly done: Promise<DispatchEnd>;
  /** Settles after `done`, once the dispatch's executors have been torn down. */
  readonly closed: Promise<void>;
  private resolveDone!: (end: DispatchEnd) => void;
  private resolveClosed!: () => void;
  private readonly sched: SchedulerState;
  private readonly inEdges: InEdge[][];
  private readonly values: NodeValues;
  /** By node: the cancel switch of each task under way (an array: one slot per node, no Map churn). */
  private readonly controllers: Array<LazyAbort | undefined>;
  private readonly setups = new Map<Executor, Promise<void>>();
  private readonly ready = new Set<Executor>();
  private queue: Queued[] = [];
  private scheduled = false;
  private turning = false;
  private crashed = false;
  private turnNumber = 0;
  /**
   * Nodes started whose RUNNING mark is not written yet, with the turn that
   * started them. Most tasks finish before the next turn, and their single
   * COMPLETED write carries the start time; the rest are marked RUNNING one
   * turn later. A dispatcher stopped in between re-runs them either way.
   */
  private readonly unwrittenRunning: UnwrittenRunning;
  private readonly startedAt: Float64Array;
  private firstFailure: { node: number; error: Error } | undefined;
  /** By node: the cache key of a cached electron that missed and runs, so its result is kept (few: a Map made on first use). */
  private cacheKeys: Map<number, CacheKey> | undefined;
  /** By node: the timer that sends "due" once a failed try's backoff is over. */
  private readonly retryTimers = new RetryTimers((node) => this.push({ event: { type: "due", node } }));
  /** Running tasks' output, stored in chunks while they run. */
  private readonly live: LiveOutput;
  /** A cancelled task may go on printing: only a running node's output is kept. */
  private readonly liveSink = {
    append: (node: number, stream: OutputStream, text: string) => {
      if (this.sched.state[node] === "RUNNING") this.live.append(node, stream, text);
    },
  };

  constructor(private readonly init: DispatchRunInit) {
    this.id = init.id;
    this.done = new Promise((r) => (this.resolveDone = r));
    this.closed = new Promise((r) => (this.resolveClosed = r));
    const n = init.nodes.length;
    // The graph's own edge objects, and one shared empty list for nodes with no parents
    // (a wide dispatch's parameters): no per-node or per-edge copies to collect.
    this.inEdges = new Array<InEdge[]>(n).fill(NO_EDGES);
    for (const e of init.edges) {
      const list = this.inEdges[e.target] as InEdge[];
      if (list === NO_EDGES) this.inEdges[e.target] = [e];
      else list.push(e);
    }
    this.values = new NodeValues(n);
    this.startedAt = new Float64Array(n);
    this.controllers = new Array<LazyAbort | undefined>(n);
    this.unwrittenRunning = new UnwrittenRunning(n);
    this.live = new LiveOutput(init.id, init.store, init.outputLimit ?? DEFAULT_OUTPUT_LIMIT);
    // forEach, not for-of: no [key, value] pair per entry (a wide dispatch has 10k parameters).
    init.values.forEach((v, k) => this.values.set(k, v));
    init.encodedOutputs.forEach((v, k) => this.values.setEncoded(k, v));
    const attempts: Array<number | undefined> = [];
    init.waiting?.forEach((w, node) => (attempts[node] = w.attempts));
    this.sched = initialState({
      nodes: init.nodes.map((p) => ({ pool: p.pool, retries: p.spec.retries ?? 0, retry: p.spec.retry })),
      edges: init.edges.map((e) => [e.source, e.target] as const),
      limits: init.limits,
      initial: init.initial,
      attempts,
    });
  }

  start(): void {
    // Every executor is leased for the whole dispatch from the start, so a sublattice
    // (a child dispatch) that finishes first cannot tear down one its parent still needs.
    const executors = new Set<Executor>();
    for (const p of this.init.nodes) if (p.executor) executors.add(p.executor);
    for (const ex of executors) this.setupOnce(ex).catch(() => undefined);
    const now = Date.now();
    // The first turn's writes queue behind this one, so RUNNING is stored before any node state.
    this.init.store
      .write((w) => {
        w.dispatchStatus(this.id, "RUNNING", now);
        // A resumed dispatch's killed run may have left live output; the tasks that run again print afresh.
        w.liveOutputCleared(this.id, null);
      })
      .catch((error: unknown) => this.crash(error));
    this.init.observer?.observe({ kind: "dispatch-started", dispatchId: this.id, at: now });
    this.init.onChange?.({ dispatchId: this.id, at: now, nodes: [], status: "RUNNING" });
    this.push({ event: { type: "start" } });
    // Resumed nodes that were waiting to retry keep their stored due times.
    this.init.waiting?.forEach((w, node) => this.retryTimers.after(node, w.retryAt - now));
  }

  /** Cancels the whole dispatch, or only `nodes` and what depends on them. */
  cancel(nodes?: readonly number[]): void {
    this.push({ event: nodes ? { type: "cancel", nodes } : { type: "cancel" } });
  }

  private push(q: Queued): void {
    this.queue.push(q);
    this.schedule();
  }

  /** A turn on the next tick, unless one is due or under way (that one schedules the next when it ends). */
  private schedule(): void {
    if (this.scheduled || this.turning) return;
    this.scheduled = true;
    setImmediate(() => void this.turn());
  }

  /**
   * One turn at a time: events that arrive while a turn waits for its writes
   * queue for the next, which starts once this one has acted.
   */
  private async turn(): Promise<void> {
    this.scheduled = false;
    this.turning = true;
    try {
      await this.turnInner();
    } catch (error) {
      this.crash(error);
    } finally {
      this.turning = false;
    }
    if (this.crashed) return;
    // Tasks still running next turn get their RUNNING mark then, even if no other event comes.
    if (this.queue.length || this.unwrittenRunning.size) this.schedule();
  }

  /**
   * The shell itself failed (the store refused a write: disk full, locked
   * past its timeout). Nothing can be recorded reliably any more: stop every
   * task, try to mark the dispatch FAILED, and settle `done` so no one waits forever.
   */
  private crash(error: unknown): void {
    if (this.crashed) return;
    this.crashed = true;
    const reason = new StoreError(`dispatch ${this.id} stopped: ${toError(error).message}`, { cause: error });
    this.queue = [];
    this.live.close();
    this.retryTimers.clear();
    for (const abort of this.controllers) abort?.abort(reason);
    const at = Date.now();
    // The store is what failed, so this may fail too; the caller still learns why from `done`.
    this.init.store.write((w) => w.dispatchStatus(this.id, "FAILED", at, { error: encodeError(reason), ended: true })).catch(() => undefined);
    this.init.observer?.observe({ kind: "dispatch-ended", dispatchId: this.id, status: "FAILED", at });
    this.init.onChange?.({ dispatchId: this.id, at, nodes: [], status: "FAILED" });
    this.resolveDone({ status: "FAILED", value: undefined, error: reason });
    this.resolveClosed();
  }

  private async turnInner(): Promise<void> {
    if (this.crashed) return;
    const batch = this.queue;
    this.queue = [];
    const actions: Effect[] = [];
    const store = this.init.store;
    const now = Date.now();
    const turn = ++this.turnNumber;
    const completed: CompletedNode[] = [];
    // Only collected when someone listens: a wide dispatch changes 10k nodes in a turn.
    const changes: NodeChange[] | undefined = this.init.onChange ? [] : undefined;
    // Likewise only when observed (metrics, traces).
    const observed: Observation[] | undefined = this.init.observer ? [] : undefined;
    const written = store.write((w) => {
      let done = 0;
      for (const q of batch) {
        const ev = q.event;
        if ((ev.type === "completed" || ev.type === "failed") && this.sched.state[ev.node] !== "RUNNING") {
          this.unwrittenRunning.delete(ev.node); // cancelled meanwhile: its CANCELLED row stands
          continue;
        }
        if (ev.type === "completed" && q.outcome) {
          const attempt = this.unwrittenRunning.attempt(ev.node);
          this.unwrittenRunning.delete(ev.node);
          this.live.ended(ev.node, w);
          const began = bodyStart(q.outcome, this.startedAt[ev.node] as number, now);
          completed.push({
            node: ev.node,
            encoded: q.outcome.encoded as string,
            stdout: capOutput(q.outcome.stdout, this.live.limit),
            stderr: capOutput(q.outcome.stderr, this.live.limit),
            at: now,
            startedAt: began,
            attempt,
            lane: q.outcome.lane,
            cacheAs: q.outcome.cacheKey ? this.cacheEntry(ev.node, q.outcome.cacheKey, now) : undefined,
            cachedFrom: q.outcome.cachedFrom,
          });
          const from = q.outcome.cachedFrom;
          if (from) w.event(this.id, ev.node, "cached", `result of dispatch ${from.dispatchId} node ${from.nodeId}`, ev.node, now);
          changes?.push({ node: ev.node, status: "COMPLETED" });
          if (observed) {
            const o = this.nodeEnded(ev.node, "COMPLETED", false, q.outcome.ok && q.outcome.startedAt !== undefined ? began : null, now);
            const cache = from ? "hit" : q.outcome.cacheKey ? "stored" : undefined;
            observed.push(cache ? { ...o, cache } : o);
          }
          done++;
        }
        if (ev.type === "failed") {
          this.writeRunning(w, ev.node);
          this.live.ended(ev.node, w);
        }
        // Before the transition, which counts the next attempt of a task that will retry.
        const failedAttempt = observed && ev.type === "failed" ? this.sched.attempts[ev.node] : 0;
        const effects = transition(this.sched, ev);
        if (ev.type === "failed" && q.outcome && !q.outcome.ok) {
          observed?.push(this.nodeEnded(ev.node, "FAILED", this.sched.state[ev.node] !== "FAILED", null, now, failedAttempt));
          if (this.sched.state[ev.node] === "FAILED") {
            this.firstFailure ??= { node: ev.node, error: q.outcome.error };
            const io = { stdout: capOutput(q.outcome.stdout, this.live.limit), stderr: capOutput(q.outcome.stderr, this.live.limit) };
            w.nodeEnded(this.id, ev.node, "FAILED", encodeError(q.outcome.error), io, now, q.outcome.lane);
            changes?.push({ node: ev.node, status: "FAILED" });
            done++;
          } else if (this.sched.state[ev.node] === "RUNNING") {
            w.event(this.id, ev.node, "retry", q.outcome.error.message, ev.node, now);
          }
        }
        for (const e of effects) {
          switch (e.type) {
            case "run":
              this.startedAt[e.node] = now;
              if (this.init.eagerRunning) w.nodeRunning(this.id, e.node, e.attempt, now);
              else this.unwrittenRunning.add(e.node, e.attempt, turn);
              changes?.push({ node: e.node, status: "RUNNING" });
              actions.push(e);
              break;
            case "wait": {
              // The failed try's error stays on the node, with the next try's due time.
              const error = q.outcome && !q.outcome.ok ? q.outcome.error : new Error("failed");
              w.nodeRetrying(this.id, e.node, e.attempt, encodeError(error), now + e.delayMs);
              w.event(this.id, e.node, "retry", `try ${e.attempt} failed: ${error.message}; retrying in ${seconds(e.delayMs)}`, e.node, now);
              changes?.push({ node: e.node, status: "RUNNING" });
              actions.push(e);
              break;
            }
            case "status":
              this.unwrittenRunning.delete(e.node);
              this.live.ended(e.node, w);
              changes?.push({ node: e.node, status: e.status });
              // Only a node handed over in this run has an attempt to tell of (one cancelled while running).
              if (observed && this.startedAt[e.node] !== 0) observed.push(this.nodeEnded(e.node, e.status, false, null, now));
              w.nodeEnded(this.id, e.node, e.status, encodeError(notRunError(e.status, e.reason)), undefined, now);
              if (e.status === "CANCELLED" || e.cause !== e.node) w.event(this.id, e.node, e.status.toLowerCase(), e.reason, e.cause, now);
              done++;
              break;
            case "abort":
            case "finished":
              actions.push(e);
              break;
          }
        }
      }
      w.nodesCompleted(this.id, this.init.resultsDir, completed);
      for (const node of this.unwrittenRunning.olderThan(turn)) this.writeRunning(w, node);
      w.countDone(this.id, done);
    });
    // Nothing acts on a state the store does not hold yet.
    await written;
    if (observed) for (const o of observed) this.init.observer?.observe(o);
    if (changes?.length) this.init.onChange?.({ dispatchId: this.id, at: now, nodes: changes });
    for (const a of actions) this.perform(a);
  }

  private writeRunning(w: StoreWrites, node: number): void {
    const attempt = this.unwrittenRunning.attempt(node);
    if (attempt === null) return;
    this.unwrittenRunning.delete(node);
    w.nodeRunning(this.id, node, attempt, this.startedAt[node] as number);
  }

  private perform(e: Effect): void {
    switch (e.type) {
      case "run":
        // A cancel later in the same turn may have settled it already.
        if (this.sched.state[e.node] === "RUNNING") this.runNode(e.node);
        break;
      case "abort": {
        this.controllers[e.node]?.abort(new TaskCancelledError(`task ${this.nodeLabel(e.node)} was cancelled`));
        const ex = this.init.nodes[e.node]?.executor;
        if (ex) void ex.cancel(this.meta(e.node)).catch(() => undefined);
        break;
      }
      case "finished":
        this.finish(e.status).catch((error: unknown) => this.crash(error));
        break;
      case "wait":
        this.retryTimers.after(e.node, e.delayMs);
        break;
      case "status": {
        // A node cancelled while it waited: its timer has nothing left to do.
        this.retryTimers.cancel(e.node);
        break;
      }
    }
  }

  private runNode(node: number): void {
    const prepared = this.init.nodes[node] as PreparedNode;
    const spec = prepared.spec;
    const valueOf = this.values.get;
    try {
      switch (spec.kind) {
        case "electron":
          this.runElectron(node, prepared, electronArgs(this.inEdges[node] as InEdge[], valueOf));
          return;
        case "attribute":
        case "index":
          this.completeWith(node, access(sourceValue(this.inEdges[node] as InEdge[], valueOf), spec.key as string | number, spec.name));
          return;
        case "collection":
          this.completeWith(node, fillCollection(spec.value, spec.holes ?? [], this.inEdges[node] as InEdge[], valueOf));
          return;
        case "sublattice": {
          const abort = new LazyAbort();
          this.controllers[node] = abort;
          void this.init.runChild(this, prepared, electronArgs(this.inEdges[node] as InEdge[], valueOf), abort).then((r) => {
            this.controllers[node] = undefined;
            if (r.ok) this.completeWith(node, r.value);
            else this.failWith(node, r.error, "", "");
          });
          return;
        }
        case "parameter":
          this.completeWith(node, valueOf(node));
          return;
      }
    } catch (error) {
      this.failWith(node, error as Error, "", "");
    }
  }

  /** A cached electron first looks its key up; a miss (or inputs with no key) runs it. */
  private runElectron(node: number, p: PreparedNode, args: unknown[]): void {
    const policy = p.spec.cache;
    const key = policy && cacheKey(policy, args);
    if (!policy || !key) return this.execute(node, p, args);
    const asked = Date.now();
    this.init.store.cacheLookup(key, asked).then(
      (hit) => {
        if (this.sched.state[node] !== "RUNNING") return; // cancelled while it looked
        if (!hit) {
          (this.cacheKeys ??= new Map()).set(node, key);
          return this.execute(node, p, args);
        }
        this.values.setEncoded(node, hit.encoded);
        const cachedFrom = { key, dispatchId: hit.entry.dispatchId, nodeId: hit.entry.nodeId };
        this.push({ event: { type: "completed", node }, outcome: { ok: true, value: undefined, encoded: hit.encoded, stdout: "", stderr: "", cachedFrom } });
      },
      // A store that cannot be read now costs the reuse, not the task.
      () => {
        if (this.sched.state[node] === "RUNNING") this.execute(node, p, args);
      },
    );
  }

  private execute(node: number, p: PreparedNode, args: unknown[]): void {
    const executor = p.executor as Executor;
    const task = new RunningTask(
      node,
      this.meta(node),
      p.spec.electronId as ElectronId,
      p.spec.name,
      p.fn as TaskFunction,
      args,
      p.bundlePath ?? this.init.bundlePath,
      p.setup,
      this.liveSink,
    );
    this.controllers[node] = task;
    const timeout = p.spec.timeout;
    if (timeout) task.timer = setTimeout(() => task.abort(new TaskTimeoutError(timeout)), timeout);
    let pending: Promise<TaskOutcome>;
    try {
      // No extra promise hop once the executor is set up: this runs 10k times per wide dispatch.
      pending = this.ready.has(executor) ? executor.execute(task) : this.setupOnce(executor).then(() => executor.execute(task));
    } catch (error) {
      pending = Promise.resolve({ ok: false, error: toError(error), stdout: "", stderr: "" });
    }
    pending.then(
      (outcome) => this.settleElectron(task, outcome),
      (error: unknown) => this.settleElectron(task, { ok: false, error: toError(error), stdout: "", stderr: "" }),
    );
  }

  private settleElectron(task: RunningTask, outcome: TaskOutcome): void {
    const node = task.node;
    if (task.timer) clearTimeout(task.timer);
    this.controllers[node] = undefined;
    if (!outcome.ok) {
      this.failWith(node, outcome.error, outcome.stdout, outcome.stderr, outcome.lane);
      return;
    }
    let encoded = outcome.encoded;
    if (encoded === undefined) {
      try {
        encoded = encode(outcome.value, `return value of ${this.nodeLabel(node)}`);
      } catch (error) {
        this.failWith(node, toError(error), outcome.stdout, outcome.stderr, outcome.lane);
        return;
      }
      this.values.set(node, outcome.value);
    } else {
      this.values.setEncoded(node, encoded);
    }
    const cacheKey = this.cacheKeys?.get(node);
    if (cacheKey) this.cacheKeys?.delete(node);
    this.push({
      event: { type: "completed", node },
      outcome: { ok: true, encoded, stdout: outcome.stdout, stderr: outcome.stderr, lane: outcome.lane, startedAt: outcome.startedAt, cacheKey },
    });
  }

  /**
   * The entry a fresh result of a cached electron is kept as, made in the turn that completes
   * it: its expiry counts from `now`, the time that write records as the entry's creation.
   */
  private cacheEntry(node: number, key: CacheKey, now: number): CompletedNode["cacheAs"] {
    const spec = this.init.nodes[node]?.spec;
    return spec?.cache && { key, electron: spec.name, expiresAt: expiresAt(spec.cache, now) };
  }

  private completeWith(node: number, value: unknown): void {
    let encoded: string;
    try {
      encoded = encode(value, `output of ${this.nodeLabel(node)}`);
    } catch (error) {
      this.failWith(node, toError(error), "", "");
      return;
    }
    this.values.set(node, value);
    this.push({ event: { type: "completed", node }, outcome: { ok: true, value, encoded, stdout: "", stderr: "" } });
  }

  private failWith(node: number, error: Error, stdout: string, stderr: string, lane?: string): void {
    const trimmed = trimStack(error);
    this.push({
      // The backoff's jitter is drawn here, so the scheduler stays a pure function.
      event: { type: "failed", node, error: trimmed.message, errorName: trimmed.name, random: Math.random() },
      outcome: { ok: false, error: trimmed, stdout, stderr, lane },
    });
  }

  private setupOnce(executor: Executor): Promise<void> {
    let p = this.setups.get(executor);
    if (!p) {
      p = this.init.leases.acquire(executor).then(() => void this.ready.add(executor));
      this.setups.set(executor, p);
    }
    return p;
  }

  private async finish(final: FinalStatus): Promise<void> {
    const now = Date.now();
    this.retryTimers.clear();
    const { status, value, error, encodedOutput } = dispatchOutcome(final, () => this.values.fill(this.init.output), this.firstFailure, (n) => this.nodeLabel(n));
    this.live.close();
    const fields: { output?: string; error?: string; ended: boolean } = { ended: true };
    if (encodedOutput !== undefined) fields.output = encodedOutput;
    if (error) fields.error = encodeError(error);
    await this.init.store.write((w) => {
      w.dispatchStatus(this.id, status, now, fields);
      w.event(this.id, null, "finished", status, null, now);
    });
    this.init.store.checkpointSoon();
    this.init.observer?.observe({ kind: "dispatch-ended", dispatchId: this.id, status, at: now });
    this.init.onChange?.({ dispatchId: this.id, at: now, nodes: [], status });
    this.resolveDone({ status, value, error });
    // After `done`: a slow teardown must not hold back the result.
    await Promise.allSettled([...this.setups.keys()].map((ex) => this.init.leases.release(ex)));
    this.resolveClosed();
  }

  /** An attempt's end, for the observer; `attempt` defaults to the scheduler's count for the node. */
  private nodeEnded(node: number, status: NodeEnded["status"], retrying: boolean, startedAt: number | null, endedAt: number, attempt?: number): NodeEnded {
    const p = this.init.nodes[node] as PreparedNode;
    return {
      kind: "node-ended",
      dispatchId: this.id,
      node,
      name: p.spec.name,
      nodeKind: p.spec.kind,
      executor: p.spec.kind === "electron" && p.executor ? p.executor.pluginName : null,
      attempt: attempt || (this.sched.attempts[node] as number) || 1,
      status,
      retrying,
      handedOverAt: this.startedAt[node] as number,
      startedAt,
      endedAt,
    };
  }

  meta(node: number) {
    return { dispatchId: this.id, nodeId: asNodeId(node), resultsDir: this.init.resultsDir };
  }

  nodeLabel(node: number): string {
    return `"${this.init.nodes[node]?.spec.name}(${node})"`;
  }
}

/**
 * When the task's body began, as the executor saw it (a worker, a runner), kept between the
 * handoff and the end the dispatcher saw, since another host's clock may be off; the handoff
 * when the executor does not say.
 */
function bodyStart(outcome: TaskOutcome, handedOver: number, ended: number): number {
  const began = outcome.ok ? outcome.startedAt : undefined;
  if (began === undefined) return handedOver;
  return Math.min(Math.max(began, handedOver), ended);
}

/** "1.5 s", "30 s": a delay as a person reads it. */
function seconds(ms: number): string {
  const s = ms / 1000;
  return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
}
