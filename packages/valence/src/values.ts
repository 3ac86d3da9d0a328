/** Small facts about arbitrary values, used on both sides of the SDK/engine line. */

/** Whether `x` is a promise or promise-like (what `await` would wait for). */
export function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (typeof x === "object" || typeof x === "function") && x !== null && typeof (x as PromiseLike<unknown>).then === "function";
}

/** Anything thrown, as an Error (user code may throw strings or plain objects). */
export function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(typeof e === "string" ? e : `non-Error thrown: ${String(e)}`);
}
