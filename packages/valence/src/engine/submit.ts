/**
 * Turning a lattice call into a stored dispatch: trace, check every value can
 * travel, resolve executors, bundle the code if any executor needs it, and
 * write it all to the store before anything runs.
 */
import type { TaskSetup } from "../executor/task-setup.js";
import { taskFunction } from "../task-runner/setup.js";
import { hostname } from "node:os";
import { join } from "node:path";
import { encode } from "../codec/index.js";
import { ValenceError } from "../errors.js";
import type { Executor } from "../executor/executor.js";
import type { TaskFunction } from "../executor/task.js";
import { newDispatchId, type DispatchId } from "../ids.js";
import type { ExecutorRef, GraphEdge, GraphNode, TransportGraph } from "../sdk/graph.js";
import { globalRegistry, type RegisteredElectron } from "../sdk/global-registry.js";
import { definitionText } from "../sdk/call-site.js";
import { buildGraph, type LatticeInfo } from "../sdk/lattice.js";
import type { DefaultRetry } from "../sdk/trace.js";
import type { NodeState } from "./scheduler/transitions.js";
import type { SubmittedNode } from "./store/graph-codec.js";
import type { EdgeRecord } from "./store/records.js";
import type { PreparedNode } from "./run/run-types.js";
import { ExecutorPools } from "./run/executor-pools.js";

export interface SubmitContext {
  readonly dataDir: string;
  resolveExecutor(ref: ExecutorRef | undefined): Promise<Executor>;
  bundle(entryFile: string): Promise<string>;
  /** Bundle even if every executor runs in-process: a server's runner always loads the code. */
  readonly alwaysBundle?: boolean;
  /** The config's `[retry]`: for electrons that set no retries and whose lattice sets none. */
  readonly defaultRetry?: DefaultRetry | undefined;
  /** Told the executors before bundling starts, so slow ones (worker pools) start meanwhile. */
  warmUp?(executors: readonly Executor[]): void;
}

export interface Submission {
  readonly id: DispatchId;
  readonly graph: TransportGraph;
  readonly nodes: PreparedNode[];
  readonly nodeRecords: SubmittedNode[];
  readonly edgeRecords: EdgeRecord[];
  readonly limits: Record<string, number>;
  readonly initial: Array<NodeState | undefined>;
  readonly values: Map<number, unknown>;
  readonly inputs: string;
  /** Encoded OutputTemplate. */
  readonly outputTemplate: string;
  readonly resultsDir: string;
  readonly bundlePath: string | undefined;
  /** Each distinct executor of the dispatch. */
  readonly executors: readonly Executor[];
  /** Each electron's source text, by electron id. */
  readonly sources: Record<string, string>;
}

export class MissingEntryError extends ValenceError {
  override readonly code = "MISSING_ENTRY";
}

export async function prepareSubmission(
  ctx: SubmitContext,
  info: LatticeInfo,
  args: readonly unknown[],
  inherited: ExecutorRef | undefined,
): Promise<Submission> {
  const graph = buildGraph(info, args, inherited);
  // Checked first so a bad lattice argument is reported by its path in the call (`args[1].config.handler`).
  const inputs = encode([...args], "args");
  // The lattice's return value, less its handles, is stored now: refuse what cannot be, before any work runs.
  encode(graph.output.value, "lattice output");
  const outputTemplate = encode(graph.output, "lattice output template");
  const id = newDispatchId();
  const resultsDir = join(ctx.dataDir, "results", id);

  const pools = new ExecutorPools();
  const nodes: PreparedNode[] = [];
  const nodeRecords: SubmittedNode[] = [];
  const initial: Array<NodeState | undefined> = [];
  const values = new Map<number, unknown>();
  // Error paths for parameters are worked out only if one cannot be encoded.
  let consumers: Map<number, string> | undefined;
  const whereUsed = (id: number) => (consumers ??= firstConsumers(graph)).get(id) ?? `parameter ${id}`;
  const executorsByRef = new Map<ExecutorRef | undefined, Executor>();
  const specJson = new Map<Executor, string>();
  const sources: Record<string, string> = Object.create(null) as Record<string, string>;

  for (const traced of graph.nodes) {
    const spec = withDefaultRetry(traced, ctx.defaultRetry);
    let executor: Executor | undefined;
    let fn: TaskFunction | undefined;
    let setup: TaskSetup | undefined;
    let pool = "$builtin";
    if (spec.kind === "electron") {
      executor = executorsByRef.get(spec.executor);
      if (!executor) {
        executor = await ctx.resolveExecutor(spec.executor);
        executor.validate();
        executorsByRef.set(spec.executor, executor);
      }
      pool = pools.keyOf(executor);
      const registered = globalRegistry().electrons.get(spec.electronId as never);
      if (registered && !(spec.electronId as string in sources)) sources[spec.electronId as string] = sourceOf(registered);
      if (registered) {
        // In this process the task shares the dispatcher's disk: its set-up copies files itself.
        fn = taskFunction(registered, { copyFiles: true }) as TaskFunction;
        setup = registered.setup;
      }
    }
    nodes.push({ spec, executor, pool, fn, setup });
    let json: string | null = null;
    if (executor) {
      json = specJson.get(executor) ?? executorJson(executor);
      specJson.set(executor, json);
    } else if (typeof spec.executor === "string") {
      json = JSON.stringify(spec.executor);
    } else if (spec.executor) {
      json = executorJson(spec.executor); // a sublattice's inherited executor, rebuilt on resume
    }
    nodeRecords.push(nodeRecord(spec, json, whereUsed));
    if (spec.kind === "parameter") {
      initial[spec.id] = "COMPLETED";
      values.set(spec.id, spec.value);
    }
  }

  ctx.warmUp?.(pools.executors());
  let bundlePath: string | undefined;
  const executors = pools.executors();
  // A runner elsewhere needs the code of every electron and sublattice (a sublattice's electrons are traced there).
  const hasCode = graph.nodes.some((n) => n.kind === "electron" || n.kind === "sublattice");
  if ((ctx.alwaysBundle && hasCode) || executors.some((e) => e.needsBundle)) {
    if (!info.file) {
      throw new MissingEntryError(`cannot tell which module defined lattice "${info.name}", so its code cannot be bundled for the workers`);
    }
    bundlePath = await ctx.bundle(info.file);
  }
  // Wide graphs repeat a handful of edge labels thousands of times: one string each.
  const labels = new Map<string, string>();
  const label = (p: GraphEdge["param"]) => {
    const key = p.kind === "arg" ? `a${p.index}` : p.kind === "item" ? `i${p.slot}` : p.kind;
    let json = labels.get(key);
    if (json === undefined) labels.set(key, (json = JSON.stringify(p)));
    return json;
  };
  const edgeRecords = graph.edges.map((e) => ({ source: e.source, target: e.target, param: label(e.param) }));
  return { id, graph, nodes, nodeRecords, edgeRecords, limits: pools.limits, initial, values, inputs, outputTemplate, resultsDir, bundlePath, executors, sources };
}

/** Only what is fixed at submission: fewer fields per node for a 100k-node graph to allocate. */
function nodeRecord(spec: GraphNode, executorJson: string | null, whereUsed: (id: number) => string): SubmittedNode {
  const isParam = spec.kind === "parameter";
  return {
    nodeId: spec.id,
    kind: spec.kind,
    name: spec.name,
    electronId: spec.electronId ?? null,
    status: isParam ? "COMPLETED" : "NEW_OBJECT",
    executor: executorJson,
    retries: spec.retries ?? 0,
    retryPolicy: spec.retry ? JSON.stringify(spec.retry) : null,
    timeoutMs: spec.timeout ?? null,
    cachePolicy: spec.cache ? JSON.stringify(spec.cache) : null,
    key: spec.key === undefined ? null : JSON.stringify(spec.key),
    holes: spec.holes ? JSON.stringify(spec.holes) : null,
    value: spec.kind === "collection" ? encode(spec.value, `${spec.name}(${spec.id})`) : null,
    output: isParam ? encodeParameter(spec, whereUsed) : null,
    bundlePath: null,
  };
}

/** A parameter's value, encoded; a refusal names the argument it feeds. */
function encodeParameter(spec: GraphNode, whereUsed: (id: number) => string): string {
  try {
    return encode(spec.value, "parameter");
  } catch {
    return encode(spec.value, whereUsed(spec.id));
  }
}

/** For error paths: the argument a parameter feeds (`argument 1 of "add(0)"`). */
function firstConsumers(graph: TransportGraph): Map<number, string> {
  const out = new Map<number, string>();
  for (const e of graph.edges) {
    if (out.has(e.source)) continue;
    const target = graph.nodes[e.target] as GraphNode;
    const where = e.param.kind === "arg" ? `argument ${e.param.index}` : "value";
    out.set(e.source, `${where} of "${target.name}(${target.id})"`);
  }
  return out;
}

function executorJson(e: Executor): string {
  try {
    return JSON.stringify(e.toSpec());
  } catch {
    return JSON.stringify({ plugin: e.pluginName, state: {} });
  }
}

export const ownerHost = hostname();

/** Longest source text kept per electron: enough to read, bounded for generated code. */
const MAX_SOURCE_CHARS = 64 * 1024;

/** An electron's definition as written in its file, else its function's text, for people to read. */
export function sourceOf(electron: Pick<RegisteredElectron, "fn" | "site">): string {
  const text = (electron.site && definitionText(electron.site)) ?? Function.prototype.toString.call(electron.fn);
  return text.length > MAX_SOURCE_CHARS ? `${text.slice(0, MAX_SOURCE_CHARS)}\n/* … cut at ${MAX_SOURCE_CHARS} characters */` : text;
}

/** An electron that sets no retries (nor its lattice) gets the config's `[retry]`. */
function withDefaultRetry(spec: GraphNode, retry: DefaultRetry | undefined): GraphNode {
  if (!retry || spec.kind !== "electron" || spec.retries !== undefined || spec.retry !== undefined) return spec;
  return { ...spec, retries: retry.retries, retry: retry.policy };
}
