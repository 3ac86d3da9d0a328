/**
 * A store whose writes are timed: the one place store write latency is
 * measured, whatever the driver (SQLite, Postgres). Everything else passes
 * straight through to the driver.
 */
import type { RunObserver } from "../observe/observation.js";
import type { Store } from "./store.js";

/**
 * `store`, with each `write` and `transaction` told to `observer` when it
 * settles (how long from the call until durable, and whether it was).
 *
 * @example
 * const store = observeWrites(new SqliteStore(dir), metrics);
 * await store.write((w) => w.countDone(id, 1)); // metrics hears { kind: "store-write", op: "write", seconds }
 */
export function observeWrites(store: Store, observer: RunObserver): Store {
  const timed = <T>(op: "write" | "transaction", pending: () => Promise<T>): Promise<T> => {
    const began = performance.now();
    const told = (ok: boolean) => observer.observe({ kind: "store-write", op, seconds: (performance.now() - began) / 1000, ok });
    let p: Promise<T>;
    try {
      p = pending();
    } catch (error) {
      told(false);
      throw error;
    }
    p.then(
      () => told(true),
      () => told(false),
    );
    return p;
  };
  const overrides: Partial<Store> = {
    write: (fill) => timed("write", () => store.write(fill)),
    transaction: (fn) => timed("transaction", () => store.transaction(fn)),
  };
  // Methods bound to the driver once, not per call: reads are on hot paths too.
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, key) {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof Store];
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      let fn = bound.get(key);
      if (!fn) bound.set(key, (fn = (value as (...a: unknown[]) => unknown).bind(target)));
      return fn;
    },
  });
}
