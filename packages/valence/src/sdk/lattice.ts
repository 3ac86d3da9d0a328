/**
 * `lattice(fn, options?)`: marks a function as a workflow, and `wait`.
 */
import { LatticeArgumentsError, TracingError, ValenceError } from "../errors.js";
import type { ElectronId } from "../ids.js";
import { arityOf } from "./arity.js";
import { boundName, callerOf, siteKey } from "./call-site.js";
import type { ExecutorRef, TransportGraph } from "./graph.js";
import { globalRegistry, registerElectron } from "./global-registry.js";
import { checkExecutorRef, checkKnownKeys, checkName } from "./options.js";
import { checkRetry, type RetryOptions } from "./retry.js";
import { Trace, currentTrace, withTrace, type DefaultRetry } from "./trace.js";
import { isThenable } from "../values.js";

export interface LatticeOptions {
  /** Default executor for this lattice's electrons (an electron's own option wins). */
  readonly executor?: ExecutorRef;
  /** Where post-processing runs (reserved; post-processing is done by the dispatcher today). */
  readonly workflowExecutor?: ExecutorRef;
  /** Default `retry` for this lattice's electrons that set neither `retries` nor `retry`. */
  readonly retry?: RetryOptions;
  readonly name?: string;
  readonly description?: string;
}

export interface LatticeInfo {
  readonly id: ElectronId;
  /** The module that defined the lattice: the entry the code bundle is built from. */
  readonly file: string | undefined;
  readonly name: string;
  readonly description: string | undefined;
  readonly fn: (...args: never[]) => unknown;
  readonly options: LatticeOptions;
  /** Its `retry` option, checked: what its electrons get when they set no retries of their own. */
  readonly defaultRetry?: DefaultRetry | undefined;
}

export const LATTICE = Symbol.for("valence.lattice.v1");

export type Lattice<A extends unknown[], R> = ((...args: A) => R) & {
  readonly [LATTICE]: LatticeInfo;
  /** Traces the lattice with these arguments into its transport graph. */
  build(...args: A): TransportGraph;
};

const OPTION_KEYS = ["executor", "workflowExecutor", "retry", "name", "description"] as const;

/**
 * Marks `fn` as a lattice: a workflow whose electron calls become a task graph
 * when it is dispatched. Used inside another lattice it becomes a sublattice
 * node, expanded into its own graph when it runs; its electrons inherit its
 * executor (or the enclosing one) unless they name their own.
 *
 * @example
 * const workflow = lattice((x: number, y: number) => multiply(y, add(x, y)));
 * const id = await dispatch(workflow)(3, 4);
 */
export function lattice<A extends unknown[], R>(fn: (...args: A) => R, options: LatticeOptions = {}): Lattice<A, R> {
  const site = callerOf(lattice);
  if (typeof fn !== "function") throw new TypeError(`lattice(fn): fn must be a function, got ${typeof fn}`);
  const where = `lattice at ${siteKey(site)}`;
  checkKnownKeys(where, options, OPTION_KEYS);
  const name = checkName(where, options.name) ?? (fn.name || boundName(site) || "lattice");
  const checked: LatticeOptions = {
    ...options,
    executor: checkExecutorRef(where, options.executor),
    workflowExecutor: checkExecutorRef(where, options.workflowExecutor),
  };
  const retry = checkRetry(where, options.retry);
  const registered = registerElectron(name, fn as (...a: never[]) => unknown, siteKey(site));
  const info: LatticeInfo = { id: registered.id, file: site?.file, name, description: options.description, fn: registered.fn, options: checked, defaultRetry: retry };

  globalRegistry().lattices.set(info.id, info);

  const call = latticeCall(info, fn as (...x: unknown[]) => unknown);
  Object.defineProperty(call, "name", { value: name });
  Object.defineProperty(call, LATTICE, { value: info });
  Object.defineProperty(call, "build", { value: (...args: unknown[]) => buildGraph(info, args, undefined) });
  return call as unknown as Lattice<A, R>;
}

/**
 * What calling a lattice does: inside a lattice being traced, it records a sublattice node
 * (expanded into its own graph when it runs); outside, it runs `fn`. A trigger's template
 * (client/server-dispatcher.ts) is traced with this, from the lattice's info alone.
 */
export function latticeCall(info: LatticeInfo, fn: (...x: unknown[]) => unknown = info.fn as (...x: unknown[]) => unknown): (...args: unknown[]) => unknown {
  return (...args: unknown[]): unknown => {
    const trace = currentTrace();
    if (trace) {
      return trace.addCall(
        {
          kind: "sublattice",
          name: `:sublattice:${info.name}`,
          electronId: info.id,
          executor: info.options.executor ?? trace.defaultExecutor,
          retries: undefined,
          timeout: undefined,
        },
        args,
      );
    }
    return fn(...args);
  };
}

export function latticeInfo(x: unknown): LatticeInfo | undefined {
  return typeof x === "function" ? (x as { [LATTICE]?: LatticeInfo })[LATTICE] : undefined;
}

/**
 * Traces `info.fn(...args)`. `inherited` is the executor a sublattice node
 * passes down to electrons that name none (covalent#1291).
 */
export function buildGraph(info: LatticeInfo, args: readonly unknown[], inherited: ExecutorRef | undefined): TransportGraph {
  const arity = arityOf(info.fn);
  if (args.length < arity.required || args.length > arity.max) {
    const expected = arity.max === arity.required ? `${arity.required}` : arity.max === Infinity ? `at least ${arity.required}` : `${arity.required} to ${arity.max}`;
    const names = arity.names.length ? ` (${arity.names.join(", ")})` : "";
    throw new LatticeArgumentsError(`lattice "${info.name}" takes ${expected} argument(s)${names}, but was dispatched with ${args.length}`);
  }
  const trace = new Trace(info.options.executor ?? inherited, info.defaultRetry);
  let out: unknown;
  try {
    out = withTrace(trace, () => (info.fn as (...a: unknown[]) => unknown)(...args));
  } catch (error) {
    if (error instanceof ValenceError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new TracingError(`lattice "${info.name}" threw while being traced: ${message}`, { cause: error });
  }
  if (isThenable(out)) {
    throw new TracingError(
      `lattice "${info.name}" returned a promise: a lattice function must be synchronous (it only wires electrons together; do async work inside electrons)`,
    );
  }
  return { latticeName: info.name, nodes: trace.nodes, edges: trace.edges, output: trace.template(out) };
}

/**
 * Makes `child` wait for `parents` without passing their outputs, and returns `child`.
 *
 * @example
 * const a = setup(); const b = wait(compute(x), [a]);
 */
export function wait<T>(child: T, parents: readonly unknown[]): T {
  const trace = currentTrace();
  if (!trace) throw new TracingError("wait(child, parents) can only be used inside a lattice");
  trace.addWait(child, parents);
  return child;
}
