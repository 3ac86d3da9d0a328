/**
 * The embedded engine: one per process and data dir. It owns the store,
 * resolves executors through the plugin registry, bundles code, and runs
 * dispatches in this process (the embedded default: no server needed).
 */
import { createReadStream, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DispatchNotFoundError, DispatchOwnedError, DispatcherGoneError, DispatchNotRunningError, NodeNotFoundError } from "../errors.js";
import type { Executor } from "../executor/executor.js";
import type { DispatchId } from "../ids.js";
import type { ExecutorRef } from "../sdk/graph.js";
import { globalRegistry } from "../sdk/global-registry.js";
import type { LatticeInfo } from "../sdk/lattice.js";
import type { Result } from "../sdk/result.js";
import type { GetResultOptions } from "../sdk/engine-door.js";
import { isTerminal } from "../status.js";
import { bundleEntry } from "./bundle/bundler.js";
import { loadConfig, type EffectiveConfig } from "./config/index.js";
import { InlineExecutor } from "./executors/inline.js";
import { LocalExecutor } from "./executors/local/local-executor.js";
import { createRegistry, type ExecutorRegistry } from "./plugins/registry.js";
import { ExecutorResolver } from "./plugins/executor-resolver.js";
import { readDispatch, readResult } from "./read-result.js";
import { DispatchRun } from "./run/dispatch-run.js";
import type { ChildRunner, DispatchRunInit } from "./run/run-types.js";
import { encodeError } from "./run/stored-error.js";
import { loadStoredRun } from "./resume.js";
import type { DefaultRetry } from "../sdk/trace.js";
import { findBundle, resultsDirHere } from "./local-paths.js";
import { storeRedispatch, type RedispatchPlan } from "./redispatch.js";
import { ExecutorLeases } from "./run/executor-leases.js";
import { openStore } from "./store/open-store.js";
import type { Store } from "./store/store.js";
import type { RunObserver } from "./observe/observation.js";
import { startTracing } from "./traces/start-tracing.js";
import type { DispatchRecord } from "./store/records.js";
import { dispatchOwnerGone, ownerToken } from "./locks/owner-lock.js";
import { ownerHost, prepareSubmission } from "./submit.js";

export type { GetResultOptions };

export const BUILTIN_EXECUTORS = [
  { name: "inline", cls: InlineExecutor },
  { name: "local", cls: LocalExecutor },
];

export class Engine {
  private static readonly engines = new Map<string, Promise<Engine>>();

  /**
   * The engine for the effective config's data dir (created once, even when asked for concurrently).
   * An `observer` (a server's dispatch runner passes one, which sends it all to the server) hears
   * its runs and times its store's writes; without one, the runs are traced when the config says
   * where traces go (and OpenTelemetry is loaded only then). Options count only for the call that
   * creates the engine.
   */
  static current(opts: { observer?: RunObserver } = {}): Promise<Engine> {
    const config = loadConfig();
    const dir = config.dataDir.value;
    let engine = Engine.engines.get(dir);
    if (!engine) {
      const observer = opts.observer ? Promise.resolve(opts.observer) : startTracing(config.traces.value, "valence");
      engine = Promise.all([createRegistry({ config, builtins: BUILTIN_EXECUTORS }), openStore(config.store.value, dir, opts.observer), observer]).then(
        ([registry, store, observer]) => {
          const e = new Engine(config, registry, store);
          if (observer) e.runOptions = { observer };
          return e;
        },
      );
      Engine.engines.set(dir, engine);
      engine.catch(() => Engine.engines.delete(dir));
    }
    return engine;
  }

  /** The engine of the effective data dir if this process has started it (dispatched embedded), else undefined. */
  static started(): Promise<Engine> | undefined {
    return Engine.engines.get(loadConfig().dataDir.value);
  }

  readonly store: Store;
  readonly runs = new Map<DispatchId, DispatchRun>();
  /** How this process's runs write and report (a server's dispatch runner sets them; an observer is for metrics and traces). */
  runOptions: Pick<DispatchRunInit, "eagerRunning" | "onChange" | "observer"> = {};
  private readonly leases = new ExecutorLeases();
  private readonly executors: ExecutorResolver;

  constructor(
    readonly config: EffectiveConfig,
    readonly registry: ExecutorRegistry,
    store: Store,
  ) {
    this.store = store;
    this.executors = new ExecutorResolver(registry, config.defaultExecutor.value);
  }

  get dataDir(): string {
    return this.store.dataDir;
  }

  /** The config's `[retry]`, for electrons that set no retries (SubmitContext). */
  get defaultRetry(): DefaultRetry | undefined {
    return this.config.retry.value;
  }

  /** An executor for a ref: instances as they are, names through the registry (one instance per name). */
  resolveExecutor(ref: ExecutorRef | undefined): Promise<Executor> {
    return this.executors.resolve(ref);
  }

  warmUp(executors: readonly Executor[]): void {
    for (const e of executors) e.warmUp();
  }

  /**
   * Set by a server's dispatch runner: a bundle made here (a sublattice's, for its child
   * dispatch) is kept in the team's database too (a team server's store has a cluster), before
   * the dispatch that needs it is stored, so a server on another machine that takes the dispatch
   * over finds it there.
   */
  shareBundles = false;
  private readonly sharedBundles = new Set<string>();

  async bundle(entryFile: string): Promise<string> {
    const b = await bundleEntry(entryFile, join(this.dataDir, "bundles"));
    const cluster = this.shareBundles ? this.store.cluster : undefined;
    if (cluster && !this.sharedBundles.has(b.hash)) {
      if (!(await cluster.hasBundle(b.hash))) await cluster.putBundle(b.hash, createReadStream(b.path));
      this.sharedBundles.add(b.hash);
    }
    return b.path;
  }

  /** Stores a dispatch of `info(...args)` and starts running it here; resolves once it is stored. */
  async submit(info: LatticeInfo, args: readonly unknown[], parent?: { run: { readonly id: DispatchId }; node: number; inherited: ExecutorRef | undefined }): Promise<DispatchRun> {
    const s = await prepareSubmission(this, info, args, parent?.inherited);
    mkdirSync(s.resultsDir, { recursive: true });
    const now = Date.now();
    const record: DispatchRecord = {
        id: s.id,
        parentId: parent?.run.id ?? null,
        parentNode: parent?.node ?? null,
        name: info.name,
        latticeId: info.id,
        status: "NEW_OBJECT",
        inputs: s.inputs,
        output: null,
        outputTemplate: s.outputTemplate,
        error: null,
        createdAt: now,
        startedAt: null,
        endedAt: null,
        resultsDir: s.resultsDir,
        bundlePath: s.bundlePath ?? null,
        entryFile: info.file ?? null,
        cwd: process.cwd(),
        ownerPid: process.pid,
        ownerHost,
        ownerLock: ownerToken(this.dataDir),
        nodeCount: s.nodes.length,
        nodesDone: s.initial.filter((x) => x === "COMPLETED").length,
    };
    await this.store.write((w) => {
      w.insertDispatch(record, s.nodeRecords, s.edgeRecords);
      w.insertSources(s.id, s.sources);
    });
    const run = new DispatchRun({
      id: s.id,
      store: this.store,
      resultsDir: s.resultsDir,
      bundlePath: s.bundlePath,
      nodes: s.nodes,
      edges: s.graph.edges,
      output: s.graph.output,
      limits: s.limits,
      initial: s.initial,
      values: s.values,
      encodedOutputs: new Map(),
      runChild: this.runChild,
      leases: this.leases,
      outputLimit: this.config.outputLimit.value,
      ...this.runOptions,
    });
    this.track(run);
    run.start();
    return run;
  }

  /**
   * Keeps `run` in `runs` until it is done. A function of its own so the
   * closure holds only the run: one inside `submit` would keep the whole
   * submission (every node record of a 100k-node graph) alive until the end.
   */
  private track(run: DispatchRun): void {
    this.runs.set(run.id, run);
    void run.done.then(() => this.runs.delete(run.id));
  }

  /**
   * Runs an unfinished dispatch from what the store holds: its code bundle is
   * loaded here, its executors rebuilt from their specs, completed nodes keep
   * their outputs and the rest run (those that were running, again).
   * Sublattice runs it had started are resumed the same way when their node
   * runs again (see runChild); those whose node will not run again are marked
   * FAILED. Only a process that may load the user's code (a dispatch runner,
   * `valence resume`) passes `importBundles`.
   */
  async resume(id: DispatchId, opts: { importBundles?: boolean } = {}): Promise<DispatchRun> {
    let record = await readDispatch(this.store, id);
    if (isTerminal(record.status)) throw new DispatchNotRunningError(`dispatch ${id} is ${record.status}: there is nothing to resume`);
    // Before its code is loaded here (which may have effects of its own); checked again when ownership is taken.
    this.refuseIfOwnedElsewhere(record);
    if (opts.importBundles && record.bundlePath === null && record.entryFile !== null && existsSync(record.entryFile)) {
      // An embedded dispatch of inline tasks only was never bundled (nothing left its process): its entry is bundled now.
      record = { ...record, bundlePath: await this.bundle(record.entryFile) };
    }
    const stored = await loadStoredRun(
      {
        store: this.store,
        resolveExecutor: (name) => this.resolveExecutor(name),
        rebuildExecutor: (spec) => this.registry.rebuild(spec),
        importBundles: opts.importBundles ?? false,
      },
      record,
    );
    const now = Date.now();
    const me = ownerToken(this.dataDir);
    await this.store.transaction(async (tx) => {
      // Read again inside the transaction: of two processes resuming at once, one wins.
      const again = await tx.getDispatch(id);
      if (!again) throw new DispatchNotFoundError(id, this.dataDir);
      this.refuseIfOwnedElsewhere(again);
      tx.setOwner(id, process.pid, ownerHost, me);
      for (const child of await tx.childDispatches(id)) {
        if (isTerminal(child.status) || child.parentNode === null || stored.initial[child.parentNode] === undefined || stored.initial[child.parentNode] === "RUNNING") continue;
        const error = encodeError(new DispatcherGoneError(`superseded: its parent dispatch ${id} was resumed, and its node ${child.parentNode} has ended`));
        tx.dispatchStatus(child.id, "FAILED", now, { error, ended: true });
      }
    });
    // Paths of the server that received it; one that took it over (from another machine) has copies of its own.
    const resultsDir = resultsDirHere(record.resultsDir, this.dataDir);
    const run = new DispatchRun({
      id,
      store: this.store,
      resultsDir,
      bundlePath: record.bundlePath === null ? undefined : (findBundle(record.bundlePath, this.dataDir) ?? record.bundlePath),
      nodes: stored.nodes,
      edges: stored.edges,
      output: stored.output,
      limits: stored.limits,
      initial: stored.initial,
      values: new Map(),
      encodedOutputs: stored.encodedOutputs,
      waiting: stored.waiting,
      runChild: this.runChild,
      leases: this.leases,
      outputLimit: this.config.outputLimit.value,
      ...this.runOptions,
    });
    mkdirSync(resultsDir, { recursive: true });
    if (opts.importBundles) this.importsBundles = true;
    this.track(run);
    run.start();
    return run;
  }

  private refuseIfOwnedElsewhere(d: DispatchRecord): void {
    if (d.ownerLock === null || d.ownerLock === ownerToken(this.dataDir) || dispatchOwnerGone(this.dataDir, d, ownerHost)) return;
    throw new DispatchOwnedError(
      `dispatch ${d.id} is being run by another process (pid ${d.ownerPid} on ${d.ownerHost}); ` +
        `it cannot be resumed while that process runs: wait for it, or cancel it`,
    );
  }

  /** A new run of a finished dispatch's graph, here (see `storeRedispatch`). */
  async redispatch(fromId: DispatchId, plan: RedispatchPlan): Promise<DispatchRun> {
    return this.resume(await storeRedispatch(this.store, fromId, plan));
  }

  /** Set once this process resumed a dispatch from its stored code: sublattice runs it resumes load theirs too. */
  private importsBundles = false;

  private readonly runChild: ChildRunner = async (parent, node, args, abort) => {
    const info = globalRegistry().lattices.get(node.spec.electronId as never) as LatticeInfo | undefined;
    if (!info) return { ok: false, error: new Error(`lattice ${node.spec.electronId} is not loaded in this process`) };
    try {
      // A run of this node's sublattice left by a process that died: it goes on from where it
      // was (its completed nodes are not run again), or, finished, gives its result at once.
      const previous = (await this.store.childDispatches(parent.id))
        .filter((c) => c.parentNode === node.spec.id && c.status !== "FAILED" && c.status !== "CANCELLED")
        .sort((a, b) => b.createdAt - a.createdAt)[0];
      if (previous?.status === "COMPLETED") return { ok: true, value: (await readResult(this.store, previous.id)).result };
      const child = previous
        ? await this.resume(previous.id, { importBundles: this.importsBundles })
        : await this.submit(info, args, { run: parent, node: node.spec.id, inherited: node.spec.executor });
      // Cancelling the sublattice node cancels the child dispatch; it may have been cancelled while being stored.
      if (abort.aborted) child.cancel();
      else abort.signal.addEventListener("abort", () => child.cancel(), { once: true });
      const end = await child.done;
      if (end.status === "COMPLETED") return { ok: true, value: end.value };
      return { ok: false, error: end.error ?? new Error(`sublattice ${info.name} ${end.status}`) };
    } catch (error) {
      return { ok: false, error: error as Error };
    }
  };

  async getResult<T>(id: DispatchId, opts: GetResultOptions = {}): Promise<Result<T>> {
    if (opts.wait) await this.waitFor(id, opts.pollMs ?? 100);
    return readResult<T>(this.store, id, opts.statusOnly);
  }

  private async waitFor(id: DispatchId, pollMs: number): Promise<void> {
    const run = this.runs.get(id);
    if (run) {
      await run.done;
      return;
    }
    // Run by another process: follow the store (not a hot path).
    for (;;) {
      const d = await readDispatch(this.store, id);
      if (isTerminal(d.status)) return;
      if (dispatchOwnerGone(this.dataDir, d, ownerHost)) {
        throw new DispatcherGoneError(
          `dispatch ${id} is ${d.status}, but the process that ran it (pid ${d.ownerPid}) has exited: it will not finish there. ` +
            `Resume it with \`valence resume ${id}\` (completed nodes are kept), redispatch it, or use a server (valence start) for dispatches that outlive their script`,
        );
      }
      await sleep(pollMs);
    }
  }

  /** Cancels a dispatch running in this process (or some of its nodes). */
  async cancel(id: DispatchId, nodes?: readonly number[]): Promise<void> {
    const run = this.runs.get(id);
    if (nodes) {
      const count = (await readDispatch(this.store, id)).nodeCount;
      const bad = nodes.filter((n) => !Number.isInteger(n) || n < 0 || n >= count);
      if (bad.length) throw NodeNotFoundError.outside(id, count, bad.map((b) => JSON.stringify(b)));
    }
    if (!run) {
      const d = await readDispatch(this.store, id);
      throw new DispatchNotRunningError(`dispatch ${id} is ${d.status} and not running in this process; nothing to cancel here`);
    }
    run.cancel(nodes);
  }
}
