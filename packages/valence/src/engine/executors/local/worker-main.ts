/**
 * Entry point of each local worker process (forked by `WorkerPool`).
 *
 * It receives batches of tasks, loads each task's bundle once, finds the
 * electron in the process-global registry, runs it with its stdout/stderr
 * captured and sends results back, batched per event-loop turn. A task that
 * throws fails only itself; a task that exits or crashes the process is the
 * pool's business.
 */
import { pathToFileURL } from "node:url";
import { decode, encode } from "../../../codec/index.js";
import { callCaptured, type CapturedCall } from "../../../executor/capture.js";
import { isThenable } from "../../../values.js";
import type { ElectronId } from "../../../ids.js";
import {
  globalRegistry,
  markTaskRunner,
  whenElectronRegistered,
  type RegisteredElectron,
} from "../../../sdk/global-registry.js";
import { ElectronNotFoundError } from "./electron-not-found-error.js";
import type { DoneMessage, RunMessage, WireError, WireResult, WireTask } from "./protocol.js";
import { recordBaseline, watchStall } from "./stall-watch.js";
import { toWireError } from "./wire-error.js";

// A bundle is the user's whole entry module: a top-level `dispatch(...)` in it
// must never settle here, or importing it would dispatch again.
markTaskRunner();
// Stack traces and call-site electron ids must name the user's files, not the bundle.
process.setSourceMapsEnabled(true);

const send = process.send?.bind(process);
if (!send) throw new Error("worker-main runs as a forked child of WorkerPool; it has no IPC channel");

interface Bundle {
  /** The import, started once and never awaited on its own. */
  readonly loading: Promise<unknown>;
  /** Resolves if the module's evaluation is found stuck; made when a task first has to wait. */
  stalled?: Promise<void>;
  /** One lookup per electron: the first batch may hold thousands of tasks waiting for the same one. */
  readonly lookups: Map<ElectronId, Promise<RegisteredElectron>>;
}

const bundles = new Map<string, Bundle>();

const BATCH = 1000;
let outbox: WireResult[] = [];
let flushScheduled = false;

process.on("message", (message: RunMessage) => {
  for (const task of message.run) start(message.bundlePath, task);
});
// The pool's process is gone: leftovers of user code (servers, intervals) must not keep an orphan alive.
process.on("disconnect", () => process.exit(0));
recordBaseline();

function start(bundlePath: string, task: WireTask): void {
  const registered = globalRegistry().electrons.get(task.electronId as ElectronId);
  // Fast path: after the first task of a bundle, no promise hop before running.
  if (registered) return run(task, registered);
  findElectron(bundlePath, task.electronId as ElectronId).then(
    (electron) => run(task, electron),
    (error: unknown) => fail(task.id, error, undefined),
  );
}

/**
 * Waits for the electron to register while its bundle loads. The import is
 * not awaited by itself: the user's module may sit forever on a top-level
 * `await dispatch(...)` after defining its electrons, and those are usable.
 */
function findElectron(bundlePath: string, id: ElectronId): Promise<RegisteredElectron> {
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
    // Failures reach the tasks that wait on this bundle; with none waiting, they must not crash the worker.
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

function run(task: WireTask, electron: RegisteredElectron): void {
  let args: unknown[];
  try {
    args = decode(task.args) as unknown[];
  } catch (error) {
    return fail(task.id, error, undefined);
  }
  // Named args (task.kwargs) are not applied: like InlineExecutor, the call is
  // fn(...args) until the SDK defines a calling convention for them.
  const fn = electron.fn as (...a: unknown[]) => unknown;
  const call = callCaptured(() => fn(...args));
  const { id } = task;
  if (call.threw) return fail(id, call.value, call);
  const value = call.value;
  if (isThenable(value)) {
    value.then(
      (v) => succeed(id, v, call),
      (error: unknown) => fail(id, error, call),
    );
  } else {
    // Most tasks are synchronous: they answer in this very turn, without a promise.
    succeed(id, value, call);
  }
}


function succeed(id: number, value: unknown, call: CapturedCall): void {
  let encoded: string;
  try {
    encoded = encode(value, "return value");
  } catch (error) {
    return fail(id, error, call);
  }
  const result: { id: number; ok: true; value: string; stdout?: string; stderr?: string } = { id, ok: true, value: encoded };
  addOutput(result, call);
  reply(result);
}

function fail(id: number, thrown: unknown, call: CapturedCall | undefined): void {
  const result: { id: number; ok: false; error: WireError; stdout?: string; stderr?: string } = {
    id,
    ok: false,
    error: toWireError(thrown),
  };
  if (call) addOutput(result, call);
  reply(result);
}

function addOutput(result: { stdout?: string; stderr?: string }, call: CapturedCall): void {
  const { stdout, stderr } = call.output();
  if (stdout) result.stdout = stdout;
  if (stderr) result.stderr = stderr;
}

/**
 * Results finished in the same turn share one IPC message; a long turn sends
 * every `BATCH` results, so the pool can use them while this worker goes on.
 */
function reply(result: WireResult): void {
  outbox.push(result);
  if (outbox.length >= BATCH) flush();
  else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

function flush(): void {
  flushScheduled = false;
  if (outbox.length === 0) return;
  const message: DoneMessage = { done: outbox };
  outbox = [];
  send?.(message);
}
