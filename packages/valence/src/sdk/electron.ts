/**
 * `electron(fn, options?)`: marks a function as a task.
 */
import type { ElectronId } from "../ids.js";
import { boundName, callerOf, siteKey } from "./call-site.js";
import type { ExecutorRef } from "./graph.js";
import { registerElectron, registerExecutorClass, type ExecutorClass } from "./global-registry.js";
import { taskSetupOf, type CallDep, type Dep, type FileTransfer } from "./deps.js";
import { checkCount, checkDuration, checkExecutorRef, checkKnownKeys, checkName, OptionsError } from "./options.js";
import { checkRetry, type RetryOptions, type RetryPolicy } from "./retry.js";
import { checkCache, type CacheOptions } from "./cache.js";
import { currentTrace } from "./trace.js";
import { isThenable } from "../values.js";

export interface ElectronOptions {
  /** An executor instance, or a name resolved through the plugin registry ("local", "inline", …). */
  readonly executor?: ExecutorRef;
  /** Display name; defaults to the function's name or the variable it is assigned to. */
  readonly name?: string;
  /** How many times a failed task is tried again, at once (`retry` adds a backoff between tries). */
  readonly retries?: number;
  /** Tries with a backoff between them, and which errors retry: `{ attempts: 4, backoff: 1000, maxDelay: 30000, on: ["TaskTimeoutError"] }`. */
  readonly retry?: RetryOptions;
  /** Milliseconds a task may run before it fails with a TaskTimeoutError. */
  readonly timeout?: number;
  /** Set-up where the task runs: `DepsNpm`, `DepsBash`, `DepsCall` (one or a list). */
  readonly deps?: Dep | readonly Dep[];
  /** Functions called where the task runs, before it (`DepsCall(fn, args)`). */
  readonly callBefore?: CallDep | readonly CallDep[];
  /** Functions called where the task runs, after it succeeds. */
  readonly callAfter?: CallDep | readonly CallDep[];
  /** Files copied to the task's place before it runs, or back after (`FileTransfer(from, to, { order })`). */
  readonly files?: FileTransfer | readonly FileTransfer[];
  /**
   * Reuse results across dispatches: a task whose code and inputs a completed run has seen is
   * not run again (`true`, or `{ ttl: ms, version }`). See sdk/cache.ts for what the key covers.
   */
  readonly cache?: boolean | CacheOptions;
}

/** Arguments accept promises (the outputs of async electrons) where values are expected. */
export type Traceable<A extends readonly unknown[]> = { [K in keyof A]: A[K] | PromiseLike<A[K]> };

export interface ElectronInfo {
  readonly id: ElectronId;
  readonly name: string;
  /** The module that defined it, when known (a replacement electron's code is bundled from it). */
  readonly file?: string | undefined;
  readonly fn: (...args: never[]) => unknown;
  readonly options: ElectronOptions;
}

export const ELECTRON = Symbol.for("valence.electron.v1");

export type Electron<A extends readonly unknown[], R> = ((...args: Traceable<A>) => R) & {
  readonly [ELECTRON]: ElectronInfo;
};

const OPTION_KEYS = ["executor", "name", "retries", "retry", "timeout", "deps", "callBefore", "callAfter", "files", "cache"] as const;

/**
 * Marks `fn` as an electron. Inside a lattice being traced, calling it records
 * a node and returns a handle typed like its return value; anywhere else it
 * simply runs `fn`.
 *
 * @example
 * const add = electron((x: number, y: number) => x + y, { executor: "local" });
 * const wf = lattice((x: number) => add(x, 1));
 */
export function electron<A extends unknown[], R>(fn: (...args: A) => R, options: ElectronOptions = {}): Electron<A, R> {
  const site = callerOf(electron);
  if (typeof fn !== "function") {
    throw new TypeError(`electron(fn): fn must be a function, got ${typeof fn}`);
  }
  const where = `electron at ${siteKey(site)}`;
  checkKnownKeys(where, options, OPTION_KEYS);
  const name = checkName(where, options.name) ?? (fn.name || boundName(site) || "electron");
  const retry = checkRetry(where, options.retry);
  if (retry && options.retries !== undefined) {
    throw new OptionsError(`${where}: give "retries" (tries again at once) or "retry" (with a backoff), not both`);
  }
  const policy: RetryPolicy | undefined = retry?.policy;
  const checked: ElectronOptions = {
    executor: checkExecutorRef(where, options.executor),
    retries: retry ? retry.retries : checkCount(where, "retries", options.retries),
    timeout: checkDuration(where, "timeout", options.timeout),
    name,
  };
  const setup = taskSetupOf(where, options);
  const cache = checkCache(where, options.cache, fn as (...a: never[]) => unknown, setup);
  const registered = registerElectron(name, fn as (...a: never[]) => unknown, siteKey(site), setup, site);
  // The class of an executor instance is known by name in this process from now on
  // (the registry lists it as "runtime" and can rebuild stored executors of it).
  if (typeof checked.executor === "object") {
    registerExecutorClass(checked.executor.pluginName, checked.executor.constructor as ExecutorClass);
  }
  const info: ElectronInfo = { id: registered.id, name, file: site?.file, fn: registered.fn, options: checked };

  const call = (...args: unknown[]): unknown => {
    const trace = currentTrace();
    if (trace) {
      return trace.addCall(
        { kind: "electron", name, electronId: info.id, executor: checked.executor, retries: checked.retries, retry: policy, timeout: checked.timeout, cache },
        args,
      );
    }
    // Outside a lattice an electron is its function; promised arguments are awaited first.
    if (args.some(isThenable)) return Promise.all(args).then((a) => (fn as (...x: unknown[]) => unknown)(...a));
    return (fn as (...x: unknown[]) => unknown)(...args);
  };
  Object.defineProperty(call, "name", { value: name });
  Object.defineProperty(call, ELECTRON, { value: info });
  return call as Electron<A, R>;
}


export function electronInfo(x: unknown): ElectronInfo | undefined {
  return typeof x === "function" ? (x as { [ELECTRON]?: ElectronInfo })[ELECTRON] : undefined;
}
