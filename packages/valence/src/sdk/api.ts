/**
 * `dispatch`, `dispatchSync`, `getResult`, `cancel`: the SDK's door to the engine.
 *
 * The engine (SQLite, esbuild, worker pools) is loaded on first use, through
 * the door in engine-door.ts, so task bundles carry the SDK but never the engine.
 */
import { TracingError } from "../errors.js";
import type { DispatchId, TriggerId } from "../ids.js";
import type { TriggerSpec } from "./trigger-spec.js";
import { sdkDispatcher as dispatcher, type GetResultOptions, type RedispatchOptions } from "./engine-door.js";
import { isTaskRunner } from "./global-registry.js";
import { latticeInfo, type Lattice } from "./lattice.js";
import type { Result } from "./result.js";

export type { GetResultOptions, RedispatchOptions };

/**
 * Returns a function that dispatches `workflow` with the given arguments and
 * resolves to its `DispatchId` once the dispatch is stored. With no server
 * configured or running it runs embedded, in this process; with one, the
 * dispatch is sent there and this process may exit once it has the id.
 *
 * @example
 * const id = await dispatch(workflow)(3, 4);
 * const result = await getResult(id, { wait: true });
 */
export function dispatch<A extends unknown[], R>(workflow: Lattice<A, R>): (...args: A) => Promise<DispatchId> {
  const info = latticeInfo(workflow);
  if (!info) throw new TracingError("dispatch(workflow): workflow must be a lattice (wrap the function with lattice(fn))");
  return async (...args: A) => {
    // Inside a task runner the user's module is being loaded for its electrons:
    // its top-level dispatch must never run again, so it never settles.
    if (isTaskRunner()) return new Promise<never>(() => undefined);
    return (await dispatcher()).submit(info, args);
  };
}

/** Dispatches and waits for the result. */
export function dispatchSync<A extends unknown[], R>(workflow: Lattice<A, R>): (...args: A) => Promise<Result<Awaited<R>>> {
  const go = dispatch(workflow);
  return async (...args: A) => getResult<Awaited<R>>(await go(...args), { wait: true });
}

/** The result of a dispatch, from this process or any other on the same data dir. */
export async function getResult<T = unknown>(id: DispatchId | string, options: GetResultOptions = {}): Promise<Result<T>> {
  if (isTaskRunner()) return new Promise<never>(() => undefined);
  return (await dispatcher()).getResult<T>(id as DispatchId, options);
}

/** Cancels a running dispatch, or only some of its nodes (and what depends on them). */
export async function cancel(id: DispatchId | string, nodeIds?: readonly number[]): Promise<void> {
  await (await dispatcher()).cancel(id as DispatchId, nodeIds);
}

/**
 * Runs a finished dispatch's graph again, as a new dispatch with the same
 * inputs. With `reusePreviousResults`, nodes that completed and whose inputs
 * cannot have changed keep their outputs instead of running;
 * `replaceElectrons` swaps in new implementations by electron name (define
 * them as new electrons, for example in the script that redispatches), and
 * everything downstream of a replaced electron runs again.
 *
 * @example
 * const fixedAdd = electron((x: number, y: number) => x + y + 1);
 * const again = await redispatch(id, { replaceElectrons: { add: fixedAdd }, reusePreviousResults: true });
 */
export async function redispatch(id: DispatchId | string, options: RedispatchOptions = {}): Promise<DispatchId> {
  if (isTaskRunner()) return new Promise<never>(() => undefined);
  return (await dispatcher()).redispatch(id as DispatchId, options);
}

/**
 * Attaches `workflow` to a directory watch, an interval or a cron schedule kept by the server
 * (`valence start`): each new or changed file under the directory dispatches it with the
 * file's absolute path; each tick, with the tick's time as an ISO string. A lattice that
 * declares no parameter is dispatched with none. Resolves to the trigger's id once the server
 * has it; manage it with `valence triggers ls|show|pause|resume|rm`.
 *
 * A bad spec is refused here with a TriggerSpecError naming what to fix: a cron expression
 * croner refuses, a directory the server cannot find, an interval that is not a duration.
 *
 * @example
 * const id = await trigger(ingest, { watch: "./inbox" });        // ingest(path: string)
 * await trigger(report, { cron: "0 7 * * 1-5" });                 // report(at: string)
 * await trigger(heartbeat, { every: "30s" });
 */
export async function trigger<R>(workflow: Lattice<[string], R> | Lattice<[], R>, spec: TriggerSpec): Promise<TriggerId> {
  const info = latticeInfo(workflow);
  if (!info) throw new TracingError("trigger(workflow, spec): workflow must be a lattice (wrap the function with lattice(fn))");
  if (isTaskRunner()) return new Promise<never>(() => undefined);
  return (await dispatcher()).trigger(info, spec);
}
