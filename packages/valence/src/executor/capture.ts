/**
 * Per-task stdout/stderr capture for tasks that run in this process.
 *
 * Several tasks may run at once on one event loop, so a global redirect would
 * mix their output. `process.stdout.write` is patched once and consults an
 * AsyncLocalStorage: writes made inside a task (however deep in its async
 * calls) go to that task's buffers; all other writes pass through.
 */
import { AsyncLocalStorage } from "node:async_hooks";

interface Buffers {
  stdout: string[];
  stderr: string[];
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

function patch(stream: NodeJS.WriteStream, which: keyof Buffers, als: AsyncLocalStorage<Buffers>): void {
  const original = stream.write.bind(stream) as (...a: unknown[]) => boolean;
  stream.write = function (this: unknown, chunk: unknown, ...rest: unknown[]): boolean {
    const buffers = als.getStore();
    if (!buffers) return original(chunk, ...rest);
    buffers[which].push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
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

/** Runs `fn` with its stdout/stderr captured. */
export function runCaptured<T>(fn: () => T | Promise<T>): Captured<T> {
  const buffers: Buffers = { stdout: [], stderr: [] };
  const result = shared().als.run(buffers, async () => fn());
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
  /** Output so far; complete once a returned promise settles. */
  output(): { stdout: string; stderr: string };
}

/**
 * Calls `fn` with its stdout/stderr captured, without wrapping the call in a
 * promise: for hot paths (the local worker runs thousands of trivial tasks a
 * second) where a synchronous result can be used at once. Output written by
 * the async continuations of a returned promise is captured too.
 */
export function callCaptured(fn: () => unknown): CapturedCall {
  const buffers: Buffers = { stdout: [], stderr: [] };
  const output = () => ({ stdout: buffers.stdout.join(""), stderr: buffers.stderr.join("") });
  try {
    return { threw: false, value: shared().als.run(buffers, fn), output };
  } catch (error) {
    return { threw: true, value: error, output };
  }
}
