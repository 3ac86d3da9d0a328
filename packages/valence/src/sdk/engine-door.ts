/**
 * The SDK's door to whatever runs dispatches: the embedded engine or a
 * server's client. The SDK sits below both, so it names here only what it
 * calls (`SdkDispatcher`) and asks a process-global slot for one;
 * `client/dispatcher.ts` is what fills it, loaded by the package entry
 * (index.ts) on first use. Task bundles carry the SDK but never the engine:
 * the bundler keeps that one import out of them.
 */
import { ValenceError } from "../errors.js";
import type { DispatchId, TriggerId } from "../ids.js";
import type { TriggerSpec } from "./trigger-spec.js";
import type { Electron } from "./electron.js";
import type { LatticeInfo } from "./lattice.js";
import type { Result } from "./result.js";

export interface GetResultOptions {
  /** Wait until the dispatch finished. */
  readonly wait?: boolean;
  /** Only status and times: no inputs, outputs or nodes. */
  readonly statusOnly?: boolean;
  /** Poll interval when waiting on a dispatch run by another process (ms). */
  readonly pollMs?: number;
}

export interface RedispatchOptions {
  /** Keep the outputs of nodes that completed and whose inputs cannot have changed. */
  readonly reusePreviousResults?: boolean;
  /** New implementations, by the name of the electron they replace. */
  readonly replaceElectrons?: Readonly<Record<string, Electron<never[], unknown>>>;
}

/** What the SDK's `dispatch`, `getResult`, `cancel` and `redispatch` call. */
export interface SdkDispatcher {
  submit(info: LatticeInfo, args: readonly unknown[]): Promise<DispatchId>;
  getResult<T>(id: DispatchId, opts?: GetResultOptions): Promise<Result<T>>;
  cancel(id: DispatchId, nodes?: readonly number[]): Promise<void>;
  /** A new run of a finished dispatch (see `redispatch`). */
  redispatch(id: DispatchId, opts: RedispatchOptions): Promise<DispatchId>;
  /** Registers a trigger with the server (see `trigger`). */
  trigger(info: LatticeInfo, spec: TriggerSpec): Promise<TriggerId>;
}

/** The SDK was loaded without its entry (index.ts), so nothing connected it to the engine. */
export class NoDispatcherError extends ValenceError {
  override readonly code = "NO_DISPATCHER";
}

type Opener = () => Promise<SdkDispatcher>;

// Process-global, like the electron registry: a bundle's copy of the SDK finds the opener its host set.
const KEY = Symbol.for("valence.engine-door.v1");
interface Door {
  opener: Opener | undefined;
  current: Promise<SdkDispatcher> | undefined;
}
const door: Door = (((globalThis as Record<symbol, unknown>)[KEY] as Door | undefined) ??= { opener: undefined, current: undefined }) as Door;

/** Tells the SDK how to reach the engine (the package entry does, once). */
export function setDispatcherOpener(open: Opener): void {
  door.opener ??= open;
}

/** The embedded engine, or the client of a running server (chosen once per process, retried after a failure). */
export function sdkDispatcher(): Promise<SdkDispatcher> {
  const open = door.opener;
  if (!open) {
    return Promise.reject(new NoDispatcherError('nothing to dispatch to in this process: import the SDK from "valence" (its entry connects it to the engine)'));
  }
  if (!door.current) {
    const p = open();
    door.current = p;
    p.catch(() => {
      if (door.current === p) door.current = undefined;
    });
  }
  return door.current;
}
