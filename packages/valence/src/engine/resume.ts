/**
 * Rebuilding a dispatch run from the store alone: what a server's dispatch
 * runner does for a new dispatch, and again for an unfinished one after a
 * crash. Completed nodes keep their stored outputs and are not run again;
 * nodes that were running are run again (at-least-once).
 */
import { decode } from "../codec/index.js";
import { BundleLoadError } from "../errors.js";
import type { Executor, ExecutorSpec } from "../executor/executor.js";
import type { TaskFunction } from "../executor/task.js";
import { asNodeId, type ElectronId } from "../ids.js";
import type { TaskSetup } from "../executor/task-setup.js";
import type { CachePolicy, EdgeParam, GraphEdge, GraphNode, NodeKind, OutputTemplate } from "../sdk/graph.js";
import { globalRegistry, type RegisteredElectron } from "../sdk/global-registry.js";
import { findElectron } from "../task-runner/bundle-loader.js";
import { bundleHere, findBundle } from "./local-paths.js";
import { taskFunction } from "../task-runner/setup.js";
import type { NodeState } from "./scheduler/transitions.js";
import type { RetryPolicy } from "../sdk/retry.js";
import type { DispatchRecord, NodeRecord } from "./store/records.js";
import { readOutputs } from "./store/read-outputs.js";
import type { Store } from "./store/store.js";
import type { PreparedNode, WaitingNode } from "./run/run-types.js";
import { ExecutorPools } from "./run/executor-pools.js";

export interface ResumeContext {
  readonly store: Store;
  /** An executor by registry name (with the config's defaults). */
  resolveExecutor(name: string): Promise<Executor>;
  /** An executor from its stored spec. */
  rebuildExecutor(spec: ExecutorSpec): Promise<Executor>;
  /**
   * Import code bundles for electrons not registered here: only in a dispatch
   * runner. Anywhere else importing the user's module would run its top level
   * (its own dispatch calls) a second time.
   */
  readonly importBundles: boolean;
}

/** Everything a `DispatchRun` needs, read back from the store. */
export interface StoredRun {
  readonly record: DispatchRecord;
  readonly nodes: PreparedNode[];
  readonly edges: GraphEdge[];
  readonly output: OutputTemplate;
  readonly limits: Record<string, number>;
  readonly initial: Array<NodeState | undefined>;
  readonly encodedOutputs: Map<number, string>;
  /** Nodes whose failed try waits out its backoff (initial WAITING): tries made, and when the next is due. */
  readonly waiting: Map<number, WaitingNode>;
}

const SETTLED: Partial<Record<string, NodeState>> = {
  COMPLETED: "COMPLETED",
  FAILED: "FAILED",
  CANCELLED: "CANCELLED",
  RUNNING: "RUNNING",
  STARTING: "RUNNING",
};

/**
 * Reads dispatch `record` back into runnable form. Its code bundle is loaded
 * into this process (the caller must have marked it a task runner, so the
 * bundle's own top-level `dispatch` never runs again).
 *
 * @throws BundleLoadError when the bundle cannot be loaded or lacks an electron.
 */
export async function loadStoredRun(ctx: ResumeContext, record: DispatchRecord): Promise<StoredRun> {
  const id = record.id;
  const rows = await ctx.store.getNodes(id);
  const outputOf = await readOutputs(ctx.store, rows);
  const dataDir = ctx.store.dataDir;
  // A node's own bundle (a replaced electron's) as this machine has it (local-paths.ts).
  const found = new Map<string, string>();
  const here = (path: string | null): string | null => {
    if (path === null) return null;
    let at = found.get(path);
    if (at === undefined) found.set(path, (at = findBundle(path, dataDir) ?? path));
    return at;
  };
  const registered = await loadElectrons(record, rows, ctx.importBundles, dataDir);
  const executors = new Map<string, Promise<Executor>>();
  const executorOf = (json: string): Promise<Executor> => {
    let e = executors.get(json);
    if (!e) {
      const parsed = JSON.parse(json) as string | ExecutorSpec;
      e = typeof parsed === "string" ? ctx.resolveExecutor(parsed) : ctx.rebuildExecutor(parsed);
      executors.set(json, e);
    }
    return e;
  };

  const pools = new ExecutorPools();
  const nodes: PreparedNode[] = [];
  const initial: Array<NodeState | undefined> = [];
  const encodedOutputs = new Map<number, string>();
  const waiting = new Map<number, WaitingNode>();
  for (const row of rows) {
    const spec = graphNode(row);
    let executor: Executor | undefined;
    let fn: TaskFunction | undefined;
    let setup: TaskSetup | undefined;
    let pool = "$builtin";
    if (row.kind === "electron") {
      executor = await executorOf(row.executor ?? '"local"');
      pool = pools.keyOf(executor);
      const electron = registered.get(row.electronId as ElectronId);
      if (electron) {
        fn = taskFunction(electron, { copyFiles: true }) as TaskFunction;
        setup = electron.setup;
      }
    }
    if (row.kind === "sublattice" && row.executor !== null && row.executor.startsWith("{")) {
      // The executor the sublattice's electrons inherit, stored as a spec.
      (spec as { executor?: Executor }).executor = await executorOf(row.executor);
    }
    nodes.push({ spec, executor, pool, fn, setup, bundlePath: here(row.bundlePath) ?? undefined });
    initial[row.nodeId] = SETTLED[row.status];
    if (initial[row.nodeId] === "RUNNING" && row.retryAt !== null) {
      // Its failed try was stored with the due time of the next: that schedule stands.
      initial[row.nodeId] = "WAITING";
      waiting.set(row.nodeId, { attempts: row.attempts, retryAt: row.retryAt });
    }
    if (row.status === "COMPLETED") {
      const out = outputOf(row);
      if (out !== null) encodedOutputs.set(row.nodeId, out);
    }
  }
  const edges = (await ctx.store.getEdges(id)).map((e) => ({
    source: asNodeId(e.source),
    target: asNodeId(e.target),
    param: JSON.parse(e.param) as EdgeParam,
  }));
  return { record, nodes, edges, output: decode(record.outputTemplate) as OutputTemplate, limits: pools.limits, initial, encodedOutputs, waiting };
}

/**
 * The dispatch's electrons (and sublattices' lattices): those already
 * registered in this process as they are (an embedded dispatcher has the
 * user's modules loaded; importing them again would run their top level
 * twice), the rest from the bundle each node names, else the dispatch's.
 * A stored bundle path is looked for as this machine has it (local-paths.ts,
 * in `dataDir`); a bundle to import that is not here fails, naming its hash.
 */
async function loadElectrons(record: DispatchRecord, rows: readonly NodeRecord[], importBundles: boolean, dataDir: string): Promise<Map<ElectronId, RegisteredElectron>> {
  const found = new Map<ElectronId, RegisteredElectron>();
  const wanted = new Map<ElectronId, string | null>();
  for (const r of rows) {
    if ((r.kind !== "electron" && r.kind !== "sublattice") || !r.electronId) continue;
    const id = r.electronId as ElectronId;
    const here = globalRegistry().electrons.get(id);
    if (here) found.set(id, here);
    else wanted.set(id, r.bundlePath ?? record.bundlePath);
  }
  // The dispatch's own bundle first: a replacement's bundle may import the same modules, and the
  // first to define an electron at a place gets its plain id (later ones get `#2`).
  const ordered = [...wanted].sort(([, a], [, b]) => Number(a !== record.bundlePath) - Number(b !== record.bundlePath));
  for (const [electronId, bundle] of ordered) {
    if (!importBundles) {
      throw new BundleLoadError(
        `dispatch ${record.id}: electron ${electronId} is not defined in this process; run this from the script that defines ` +
          "the workflow's electrons, or start a server (valence start), whose runners load the dispatch's code themselves",
      );
    }
    if (!bundle) {
      throw new BundleLoadError(
        `dispatch ${record.id}: electron ${electronId} is not loaded in this process and the dispatch has no code bundle to load it from`,
      );
    }
    const file = bundleHere(bundle, dataDir, `dispatch ${record.id}`);
    try {
      found.set(electronId, await findElectron(file, electronId));
    } catch (error) {
      throw new BundleLoadError(`dispatch ${record.id}: cannot load its code from ${file}: ${(error as Error).message}`, { cause: error });
    }
  }
  return found;
}

function graphNode(row: NodeRecord): GraphNode {
  const node: { -readonly [K in keyof GraphNode]: GraphNode[K] } = {
    id: asNodeId(row.nodeId),
    kind: row.kind as NodeKind,
    name: row.name,
  };
  if (row.electronId !== null) node.electronId = row.electronId as ElectronId;
  if (row.retries) node.retries = row.retries;
  if (row.retryPolicy !== null) node.retry = JSON.parse(row.retryPolicy) as RetryPolicy;
  if (row.timeoutMs !== null) node.timeout = row.timeoutMs;
  if (row.cachePolicy) node.cache = JSON.parse(row.cachePolicy) as CachePolicy;
  if (row.key !== null) node.key = JSON.parse(row.key) as string | number;
  if (row.holes !== null) node.holes = JSON.parse(row.holes) as GraphNode["holes"];
  if (row.kind === "collection" && row.value !== null) node.value = decode(row.value);
  // A string executor on a non-electron node (a sublattice's inherited default) is kept as written.
  if (row.kind !== "electron" && row.executor !== null) {
    const parsed = JSON.parse(row.executor) as unknown;
    if (typeof parsed === "string") node.executor = parsed;
  }
  return node;
}
