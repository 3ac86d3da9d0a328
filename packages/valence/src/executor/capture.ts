/**
 * Per-task stdout/stderr capture for tasks that run in this process.
 *
 * Several tasks may run at once on one event loop, so a global redirect would
 * mix their output. `process.stdout.write` is patched once and consults an
 * AsyncLocalStorage: writes made inside a task (however deep in its async
 * calls) go to that task's buffers; all other writes pass through.
 *
 * Live output: a task given a `live` sink also hands its output over while it
 * runs, in chunks, at most every LIVE_MS. The timer starts on a task's first
 * write after a chunk went out, so a task that prints nothing (or finishes
 * within LIVE_MS) costs nothing more; what it wrote is in its outcome anyway.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** Which of a task's two outputs a piece of text was written to. */
export type OutputStream = "stdout" | "stderr";

/** Where a running task's output goes as it is written (the engine stores it in chunks). */
export type LiveSink = (stream: OutputStream, text: string) => void;

/** How long output waits before it is handed to the live sink, so a chatty task sends a chunk, not a line, at a time. */
export const LIVE_MS = 200;

interface Buffers {
  stdout: string[];
  stderr: string[];
  live?: LiveSink | undefined;
  /** How many items of each array the live sink has had. */
  sentOut?: number;
  sentErr?: number;
  timer?: NodeJS.Timeout | undefined;
  ended?: boolean;
}

function scheduleLive(buffers: Buffers): void {
  if (buffers.timer || buffers.ended) return;
  buffers.timer = setTimeout(() => {
    buffers.timer = undefined;
    sendLive(buffers);
  }, LIVE_MS);
  buffers.timer.unref();
}

function sendLive(buffers: Buffers): void {
  const live = buffers.live;
  if (!live || buffers.ended) return;
  const out = buffers.stdout.length;
  const err = buffers.stderr.length;
  const outText = buffers.stdout.slice(buffers.sentOut ?? 0, out).join("");
  const errText = buffers.stderr.slice(buffers.sentErr ?? 0, err).join("");
  buffers.sentOut = out;
  buffers.sentErr = err;
  // The sink is the engine's: a throw there must not become the task's. It runs outside the
  // task's capture (the timer inherited it), so a sink that writes to stdout (valence-task's
  // output file, a log) is not captured back into the task.
  shared().als.exit(() => {
    try {
      if (outText) live("stdout", outText);
      if (errText) live("stderr", errText);
    } catch {
      /* the live copy is a convenience; the outcome keeps the whole output */
    }
  });
}

/** The task has ended: no more live chunks (its outcome carries the whole output). */
function endLive(buffers: Buffers): void {
  buffers.ended = true;
  if (buffers.timer) clearTimeout(buffers.timer);
  buffers.timer = undefined;
}

const KEY = Symbol.for("valence.capture.v1");
type Shared = { als: AsyncLocalStorage<Buffers> };

function shared(): Shared {
  const g = globalThis as unknown as Record<symbol, Shared | undefined>;
  let s = g[KEY];
  if (!s) {
    s = { als: new AsyncLocalStorage<Buffers>() };
    g[KEY] = s;
    patch(process.stdout, "stdout", s.als);
    patch(process.stderr, "stderr", s.als);
  }
  return s;
}

function patch(stream: NodeJS.WriteStream, which: OutputStream, als: AsyncLocalStorage<Buffers>): void {
  const original = stream.write.bind(stream) as (...a: unknown[]) => boolean;
  stream.write = function (this: unknown, chunk: unknown, ...rest: unknown[]): boolean {
    const buffers = als.getStore();
    if (!buffers) return original(chunk, ...rest);
    buffers[which].push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
    if (buffers.live) scheduleLive(buffers);
    const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
    if (cb) queueMicrotask(cb);
    return true;
  } as typeof stream.write;
}

export interface Captured<T> {
  readonly result: Promise<T>;
  /** Output so far; complete once `result` settles. */
  output(): { stdout: string; stderr: string };
}

/** Runs `fn` with its stdout/stderr captured; with `live`, also handed over while it runs. */
export function runCaptured<T>(fn: () => T | Promise<T>, live?: LiveSink): Captured<T> {
  const buffers: Buffers = { stdout: [], stderr: [], live };
  const result = shared().als.run(buffers, async () => fn());
  if (live) void result.then(() => endLive(buffers), () => endLive(buffers));
  return {
    result,
    output: () => ({ stdout: buffers.stdout.join(""), stderr: buffers.stderr.join("") }),
  };
}

/** What `callCaptured` saw: the value `fn` returned (maybe a promise), or what it threw. */
export interface CapturedCall {
  readonly threw: boolean;
  /** The return value, or the thrown value when `threw`. */
  readonly value: unknown;
  /** Output so far; complete once a returned promise settles. Stops live chunks when called (the caller has the whole). */
  output(): { stdout: string; stderr: string };
}

/**
 * Calls `fn` with its stdout/stderr captured, without wrapping the call in a
 * promise: for hot paths (the local worker runs thousands of trivial tasks a
 * second) where a synchronous result can be used at once. Output written by
 * the async continuations of a returned promise is captured too.
 */
export function callCaptured(fn: () => unknown, live?: LiveSink): CapturedCall {
  const buffers: Buffers = { stdout: [], stderr: [], live };
  const output = () => {
    if (live) endLive(buffers);
    return { stdout: buffers.stdout.join(""), stderr: buffers.stderr.join("") };
  };
  try {
    return { threw: false, value: shared().als.run(buffers, fn), output };
  } catch (error) {
    return { threw: true, value: error, output };
  }
}
