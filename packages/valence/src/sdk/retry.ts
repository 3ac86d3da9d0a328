/**
 * `retry: { attempts, backoff, maxDelay, on }`: how a failed task is tried again.
 *
 * The user's options are checked where they are written and turned into a `RetryPolicy`,
 * plain JSON that travels with the graph to the store and to whichever process drives the
 * dispatch (a server's runner has no user code to call, so `on` is names and patterns, not
 * a function). The engine's scheduler computes the delays (engine/scheduler/backoff.ts).
 */
import type { RetryMatcher, RetryPolicy } from "./graph.js";
import { OptionsError } from "./options.js";

export type { RetryMatcher, RetryPolicy };

/** What an electron (or a lattice, for its electrons) writes. */
export interface RetryOptions {
  /** Tries in all, the first included: `attempts: 3` retries twice. */
  readonly attempts: number;
  /**
   * Milliseconds before the first retry (default 1000), multiplied by `factor` (default 2)
   * for each retry after it. `jitter` (default true) draws each delay at random between
   * half of it and all of it, so tasks that failed together do not retry together.
   */
  readonly backoff?: number | { readonly initial?: number; readonly factor?: number; readonly jitter?: boolean };
  /** The longest delay between two tries, in milliseconds (default 60000). */
  readonly maxDelay?: number;
  /**
   * Which errors are retried (default: all). A string is an error's name (`"TaskTimeoutError"`,
   * `"FetchError"`); a RegExp is tested against `"Name: message"`.
   */
  readonly on?: string | RegExp | ReadonlyArray<string | RegExp>;
}

export const DEFAULT_BACKOFF = { initial: 1000, factor: 2, maxDelay: 60_000, jitter: true } as const;

const KEYS = ["attempts", "backoff", "maxDelay", "on"] as const;
const BACKOFF_KEYS = ["initial", "factor", "jitter"];

/**
 * How an error names a key of the option: `key` is a path such as "maxDelay" or
 * "backoff.initial", or null for the option itself. Electrons say `… "retry".maxDelay`; the
 * config file's `[retry]` table names its own keys (`max_delay`).
 */
export type RetryKeyName = (key: string | null) => string;

/**
 * `retries` (tries after the first) and the policy for a `retry` option; undefined when it is not given.
 *
 * @throws OptionsError naming the key to fix, as `name` calls it.
 */
export function checkRetry(
  where: string,
  value: unknown,
  name: RetryKeyName = (key) => `${where}: "retry"${key === null ? "" : `.${key}`}`,
): { retries: number; policy: RetryPolicy } | undefined {
  if (value === undefined) return undefined;
  const at = name(null);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new OptionsError(`${at} must be an object such as { attempts: 3, backoff: 1000 }, got ${describe(value)}`);
  }
  for (const k of Object.keys(value)) {
    if (!(KEYS as readonly string[]).includes(k)) throw new OptionsError(`${at}: unknown key "${k}" (known: ${KEYS.join(", ")})`);
  }
  const o = value as Record<string, unknown>;
  if (typeof o.attempts !== "number" || !Number.isInteger(o.attempts) || o.attempts < 1 || o.attempts > 1001) {
    throw new OptionsError(`${name("attempts")} must be a whole number from 1 to 1001 (tries in all, the first included), got ${describe(o.attempts)}`);
  }
  let initial: number = DEFAULT_BACKOFF.initial;
  let factor: number = DEFAULT_BACKOFF.factor;
  let jitter: boolean = DEFAULT_BACKOFF.jitter;
  const b = o.backoff;
  if (typeof b === "number") {
    initial = milliseconds(name("backoff"), b);
  } else if (typeof b === "object" && b !== null && !Array.isArray(b)) {
    for (const k of Object.keys(b)) {
      if (!BACKOFF_KEYS.includes(k)) throw new OptionsError(`${name("backoff")}: unknown key "${k}" (known: ${BACKOFF_KEYS.join(", ")})`);
    }
    const bo = b as Record<string, unknown>;
    if (bo.initial !== undefined) initial = milliseconds(name("backoff.initial"), bo.initial);
    if (bo.factor !== undefined) {
      if (typeof bo.factor !== "number" || !Number.isFinite(bo.factor) || bo.factor < 1) {
        throw new OptionsError(`${name("backoff.factor")} must be a number ≥ 1 (1 keeps the delay fixed), got ${describe(bo.factor)}`);
      }
      factor = bo.factor;
    }
    if (bo.jitter !== undefined) {
      if (typeof bo.jitter !== "boolean") throw new OptionsError(`${name("backoff.jitter")} must be true or false, got ${describe(bo.jitter)}`);
      jitter = bo.jitter;
    }
  } else if (b !== undefined) {
    throw new OptionsError(`${name("backoff")} must be milliseconds or { initial, factor, jitter }, got ${describe(b)}`);
  }
  const maxDelay = o.maxDelay === undefined ? Math.max(DEFAULT_BACKOFF.maxDelay, initial) : milliseconds(name("maxDelay"), o.maxDelay);
  if (maxDelay < initial) throw new OptionsError(`${name("maxDelay")} (${maxDelay} ms) is shorter than the first delay (${initial} ms)`);
  const on = o.on === undefined ? undefined : matchers(name("on"), o.on);
  const policy: RetryPolicy = on ? { initial, factor, maxDelay, jitter, on } : { initial, factor, maxDelay, jitter };
  return { retries: o.attempts - 1, policy };
}

function milliseconds(at: string, v: unknown): number {
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v;
  throw new OptionsError(`${at} must be a number of milliseconds ≥ 0, got ${describe(v)}`);
}

function matchers(at: string, v: unknown): RetryMatcher[] {
  const list = Array.isArray(v) ? (v as unknown[]) : [v];
  if (list.length === 0) throw new OptionsError(`${at} must name at least one error (leave "on" out to retry every error)`);
  return list.map((m, i) => {
    if (typeof m === "string" && m.trim() !== "") return { name: m };
    if (m instanceof RegExp) return { pattern: m.source, flags: m.flags.replace(/[gy]/g, "") };
    throw new OptionsError(`${at}${Array.isArray(v) ? `[${i}]` : ""} must be an error name (a string such as "TaskTimeoutError") or a RegExp, got ${describe(m)}`);
  });
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return `${typeof v} ${JSON.stringify(v)}`;
}
