import { TaskCancelledError } from "../errors.js";

/**
 * The error a task ends with when its signal aborts: the abort's reason when
 * the dispatcher gave one (a `TaskTimeoutError`, a `TaskCancelledError`),
 * else a `TaskCancelledError`, so a bare `controller.abort()` still reads as
 * a cancel rather than a DOMException.
 */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name !== "AbortError") return reason;
  return new TaskCancelledError("task cancelled", { cause: reason });
}
