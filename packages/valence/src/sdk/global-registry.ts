/**
 * One registry per process, shared by every copy of the SDK that runs in it.
 *
 * A task bundle carries its own copy of the SDK, while the engine that loads
 * it was imported from `node_modules`. Both must see the same electrons and
 * executor classes, so the registry lives on `globalThis` under a registered
 * symbol instead of in a module variable.
 */
import type { ElectronId } from "../ids.js";
import type { TaskSetup } from "../executor/task-setup.js";

export interface RegisteredElectron {
  readonly id: ElectronId;
  readonly name: string;
  /** The user's function, as written. */
  readonly fn: (...args: never[]) => unknown;
  /** Deps, calls and files to run around the task where it runs (`task-runner/setup.ts`). */
  readonly setup?: TaskSetup;
  /** Where it was defined (for showing its source), when known. */
  readonly site?: { readonly file: string; readonly line: number; readonly column: number };
}

/** Anything with a constructor the registry can rebuild executors from. */
export type ExecutorClass = abstract new (...args: never[]) => object;

interface GlobalRegistry {
  readonly electrons: Map<ElectronId, RegisteredElectron>;
  /** How often each base id was used, so the n-th definition gets a stable `base#n`. */
  readonly nameCounts: Map<string, number>;
  readonly executorClasses: Map<string, ExecutorClass>;
  /** Lattice definitions by id (a sublattice node names its lattice by id). */
  readonly lattices: Map<ElectronId, unknown>;
  readonly waiters: Map<ElectronId, Array<(e: RegisteredElectron) => void>>;
  /** The trace in progress while a lattice function runs, shared by every SDK copy. */
  currentTrace: unknown;
  /** Set by task runners (local workers, remote task entry): `dispatch` must never settle there. */
  taskRunner: boolean;
}

const KEY = Symbol.for("valence.global-registry.v1");

export function globalRegistry(): GlobalRegistry {
  const g = globalThis as unknown as Record<symbol, GlobalRegistry | undefined>;
  let reg = g[KEY];
  if (!reg) {
    reg = {
      electrons: new Map(),
      nameCounts: new Map(),
      executorClasses: new Map(),
      lattices: new Map(),
      waiters: new Map(),
      currentTrace: undefined,
      taskRunner: false,
    };
    g[KEY] = reg;
  }
  return reg;
}

/**
 * Registers an electron (or a lattice's function) under a stable id: `baseId`
 * (normally its call site, `dir/file.ts:LINE`) plus `#n` for the n-th
 * definition with that base, so every process that evaluates the same modules
 * in the same order derives the same ids.
 */
export function registerElectron(
  name: string,
  fn: RegisteredElectron["fn"],
  baseId: string = name,
  setup?: TaskSetup,
  site?: RegisteredElectron["site"],
): RegisteredElectron {
  const reg = globalRegistry();
  const n = (reg.nameCounts.get(baseId) ?? 0) + 1;
  reg.nameCounts.set(baseId, n);
  const id = (n === 1 ? baseId : `${baseId}#${n}`) as ElectronId;
  const entry: { -readonly [K in keyof RegisteredElectron]: RegisteredElectron[K] } = { id, name, fn };
  if (setup) entry.setup = setup;
  if (site) entry.site = site;
  reg.electrons.set(id, entry);
  const waiting = reg.waiters.get(id);
  if (waiting) {
    reg.waiters.delete(id);
    for (const w of waiting) w(entry);
  }
  return entry;
}

/** Resolves once an electron with this id is registered (the bundle may still be loading). */
export function whenElectronRegistered(id: ElectronId): Promise<RegisteredElectron> {
  const reg = globalRegistry();
  const found = reg.electrons.get(id);
  if (found) return Promise.resolve(found);
  return new Promise((resolve) => {
    const list = reg.waiters.get(id) ?? [];
    list.push(resolve);
    reg.waiters.set(id, list);
  });
}

export function registerExecutorClass(name: string, cls: ExecutorClass): void {
  globalRegistry().executorClasses.set(name, cls);
}

export function isTaskRunner(): boolean {
  return globalRegistry().taskRunner;
}

export function markTaskRunner(): void {
  globalRegistry().taskRunner = true;
}
