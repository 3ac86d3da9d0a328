/**
 * Finds electrons in code bundles, for the processes that run tasks: a local
 * worker, or `valence-task` on another host.
 *
 * A bundle is the user's whole entry module. Its import is started once and
 * never awaited by itself: the module may sit forever on a top-level
 * `await dispatch(...)` after defining its electrons (that dispatch never
 * settles in a task runner), and the electrons defined before it are usable.
 */
import { pathToFileURL } from "node:url";
import type { ElectronId } from "../ids.js";
import { globalRegistry, whenElectronRegistered, type RegisteredElectron } from "../sdk/global-registry.js";
import { ElectronNotFoundError } from "./electron-not-found-error.js";
import { watchStall } from "./stall-watch.js";

interface Bundle {
  /** The import, started once and never awaited on its own. */
  readonly loading: Promise<unknown>;
  /** Resolves if the module's evaluation is found stuck; made when a task first has to wait. */
  stalled?: Promise<void>;
  /** One lookup per electron: the first batch may hold thousands of tasks waiting for the same one. */
  readonly lookups: Map<ElectronId, Promise<RegisteredElectron>>;
}

const bundles = new Map<string, Bundle>();

/** The electron if it is registered already (the hot path: no promise hop). */
export function registeredElectron(id: ElectronId): RegisteredElectron | undefined {
  return globalRegistry().electrons.get(id);
}

/**
 * Waits for electron `id` to register while `bundlePath` loads.
 *
 * @throws ElectronNotFoundError (as a rejection) when the bundle finished
 *   loading without it, or its evaluation is stuck before defining it.
 */
export function findElectron(bundlePath: string, id: ElectronId): Promise<RegisteredElectron> {
  const bundle = loadBundle(bundlePath);
  let lookup = bundle.lookups.get(id);
  if (!lookup) {
    lookup = lookUp(bundle, bundlePath, id);
    bundle.lookups.set(id, lookup);
  }
  return lookup;
}

function lookUp(bundle: Bundle, bundlePath: string, id: ElectronId): Promise<RegisteredElectron> {
  const loaded = bundle.loading.then(() => {
    // Evaluation finished, so every top-level registration has happened.
    const electron = globalRegistry().electrons.get(id);
    if (!electron) throw new ElectronNotFoundError(id, bundlePath);
    return electron;
  });
  const stuck = stalledOf(bundle).then(() => {
    throw new ElectronNotFoundError(id, bundlePath, true);
  });
  return Promise.race([whenElectronRegistered(id), loaded, stuck]);
}

function loadBundle(path: string): Bundle {
  let bundle = bundles.get(path);
  if (!bundle) {
    const loading = import(pathToFileURL(path).href);
    // Failures reach the tasks that wait on this bundle; with none waiting, they must not crash the process.
    loading.catch(() => {});
    bundle = { loading, lookups: new Map() };
    bundles.set(path, bundle);
  }
  return bundle;
}

/** Watches for a stuck evaluation only while the import is pending; once stuck, it stays stuck. */
function stalledOf(bundle: Bundle): Promise<void> {
  bundle.stalled ??= new Promise<void>((resolve) => {
    const stop = watchStall(resolve);
    bundle.loading.then(stop, stop);
  });
  return bundle.stalled;
}
