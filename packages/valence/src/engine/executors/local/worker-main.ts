/**
 * Entry point of each local worker process (forked by `WorkerPool`).
 *
 * It receives batches of tasks, loads each task's bundle once, finds the
 * electron in the process-global registry, runs it with its stdout/stderr
 * captured and sends results back, batched per event-loop turn. A task that
 * throws fails only itself; a task that exits or crashes the process is the
 * pool's business.
 */
import { decode, encode } from "../../../codec/index.js";
import { callCaptured, type CapturedCall, type OutputStream } from "../../../executor/capture.js";
import { isThenable } from "../../../values.js";
import type { ElectronId } from "../../../ids.js";
import { markTaskRunner, type RegisteredElectron } from "../../../sdk/global-registry.js";
import { findElectron, registeredElectron } from "../../../task-runner/bundle-loader.js";
import { taskFunction } from "../../../task-runner/setup.js";
import { recordBaseline } from "../../../task-runner/stall-watch.js";
import { toWireError } from "../../../executor/wire/wire-error.js";
import type { DoneMessage, OutputMessage, RunMessage, WireError, WireResult, WireTask } from "./protocol.js";

// A bundle is the user's whole entry module: a top-level `dispatch(...)` in it
// must never settle here, or importing it would dispatch again.
markTaskRunner();
// Stack traces and call-site electron ids must name the user's files, not the bundle.
process.setSourceMapsEnabled(true);

const send = process.send?.bind(process);
if (!send) throw new Error("worker-main runs as a forked child of WorkerPool; it has no IPC channel");

const BATCH = 1000;
/**
 * A result waits at most this long for others to share its message. Tiny
 * tasks still go a thousand to a message; a turn of slow synchronous tasks
 * sends each as it ends, so a crash of the pool's process loses (and re-runs)
 * the task that was running, not every task finished in the turn.
 */
const HOLD_MS = 2;
let outbox: WireResult[] = [];
let flushScheduled = false;
let heldSince = 0;

process.on("message", (message: RunMessage) => {
  for (const task of message.run) start(message.bundlePath, task);
});
// The pool's process is gone: leftovers of user code (servers, intervals) must not keep an orphan alive.
process.on("disconnect", () => process.exit(0));
// A turn of synchronous tasks does not see "disconnect" until it ends. The parent pid, read live
// before a task (at most once a millisecond: tiny tasks run by the thousand), already says so:
// the rest of the turn's tasks would run for nobody (and run again where the dispatch resumes).
const parent = process.ppid;
let parentCheckedAt = 0;
function exitIfOrphaned(): void {
  const now = performance.now();
  if (now - parentCheckedAt < 1) return;
  parentCheckedAt = now;
  if (process.ppid !== parent) process.exit(0);
}
recordBaseline();

function start(bundlePath: string, task: WireTask): void {
  const registered = registeredElectron(task.electronId as ElectronId);
  // Fast path: after the first task of a bundle, no promise hop before running.
  if (registered) return run(task, registered);
  findElectron(bundlePath, task.electronId as ElectronId).then(
    (electron) => run(task, electron),
    (error: unknown) => fail(task.id, error, undefined),
  );
}

function run(task: WireTask, electron: RegisteredElectron): void {
  exitIfOrphaned();
  let args: unknown[];
  try {
    args = decode(task.args) as unknown[];
  } catch (error) {
    return fail(task.id, error, undefined);
  }
  // Named args (task.kwargs) are not applied: like InlineExecutor, the call is
  // fn(...args) until the SDK defines a calling convention for them.
  // A worker shares the dispatcher's disk, so the electron's set-up copies its files here.
  const fn = taskFunction(electron, { copyFiles: true });
  const { id } = task;
  const began = Date.now();
  const call = callCaptured(() => fn(...args), (stream, text) => live(id, stream, text));
  if (call.threw) return fail(id, call.value, call);
  const value = call.value;
  if (isThenable(value)) {
    value.then(
      (v) => succeed(id, v, call, began),
      (error: unknown) => fail(id, error, call),
    );
  } else {
    // Most tasks are synchronous: they answer in this very turn, without a promise.
    succeed(id, value, call, began);
  }
}


function succeed(id: number, value: unknown, call: CapturedCall, began: number): void {
  let encoded: string;
  try {
    encoded = encode(value, "return value");
  } catch (error) {
    return fail(id, error, call);
  }
  const result: { id: number; ok: true; value: string; stdout?: string; stderr?: string; s: number } = { id, ok: true, value: encoded, s: began };
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
 * every `BATCH` results or every HOLD_MS, so the pool can use (and store)
 * them while this worker goes on.
 */
function reply(result: WireResult): void {
  if (outbox.length === 0) heldSince = performance.now();
  outbox.push(result);
  if (outbox.length >= BATCH || performance.now() - heldSince >= HOLD_MS) flush();
  else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

/** A running task's output chunk; results held in the outbox go first, so a chunk never overtakes its task's own result. */
function live(id: number, stream: OutputStream, text: string): void {
  flush();
  const message: OutputMessage = { output: { id, stream, text } };
  send?.(message);
}

function flush(): void {
  flushScheduled = false;
  if (outbox.length === 0) return;
  const message: DoneMessage = { done: outbox };
  outbox = [];
  send?.(message);
}
