/**
 * Abort listeners for signals that many tasks may share.
 *
 * `addEventListener` scans the signal's listener list for duplicates, so ten
 * thousand tasks that each add a listener to one dispatch-wide signal cost
 * quadratic time (hundreds of ms). Here each signal gets one listener, and
 * tasks come and go in a Map.
 */
const watchers = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `callback` once when `signal` aborts; the returned function stops
 * watching (call it when the task ends, or the callback would be kept alive).
 * Pass a fresh function per task: watching one function twice keeps one entry.
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let set = watchers.get(signal);
  if (!set) {
    const callbacks = new Set<() => void>();
    set = callbacks;
    watchers.set(signal, callbacks);
    signal.addEventListener(
      "abort",
      () => {
        watchers.delete(signal);
        for (const cb of callbacks) cb();
      },
      { once: true },
    );
  }
  set.add(callback);
  const callbacks = set;
  return () => void callbacks.delete(callback);
}
