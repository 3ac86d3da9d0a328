/**
 * What a task needs around it where it runs (npm packages, shell commands,
 * calls before and after, files in and out), as it travels with the task to
 * an executor. The SDK's DepsNpm, DepsBash, DepsCall and FileTransfer
 * (sdk/deps.ts) make and check these; executors only read them.
 */

import type { TransferStrategy } from "./transfer/strategy.js";

export const DEP = Symbol.for("valence.dep.v1");

/** npm packages installed where the task runs, once per host and package set (a cache); their `.bin` goes on PATH. */
export interface NpmDep {
  readonly [DEP]: "npm";
  readonly packages: readonly string[];
}
/** Shell commands run (with `sh -c`) where the task runs, before it, every time it runs. */
export interface BashDep {
  readonly [DEP]: "bash";
  readonly commands: readonly string[];
}
/** A function called where the task runs, with `args`, before (or after) it. */
export interface CallDep {
  readonly [DEP]: "call";
  readonly fn: (...args: never[]) => unknown;
  readonly args: readonly unknown[];
}
export type Dep = NpmDep | BashDep | CallDep;

/**
 * A file moved before the task runs or after it ends. Without a strategy it
 * is copied between the dispatcher's disk and the task's place (by the
 * executor's own transport for remote ones). With one, the strategy runs
 * where the task runs: before the task it downloads `from` to the local
 * path `to`; after it, it uploads the local `from` to `to`.
 */
export interface FileTransfer {
  readonly [DEP]: "file";
  readonly from: string;
  readonly to: string;
  readonly order: "before" | "after";
  readonly strategy?: TransferStrategy;
}

/** Everything an electron asked for around its task, checked and grouped. */
export interface TaskSetup {
  readonly npm: readonly string[];
  readonly bash: readonly string[];
  /** `deps` calls, then `callBefore`. */
  readonly before: readonly CallDep[];
  readonly after: readonly CallDep[];
  readonly files: readonly FileTransfer[];
}

