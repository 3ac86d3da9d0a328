/**
 * `cache: true` or `cache: { ttl, version }`: an electron's results kept across dispatches.
 *
 * A task whose code and inputs were seen before, by a run that completed, is not run again:
 * the engine looks its key up in the store before handing it to its executor, and a hit
 * completes the node with the stored output and says which dispatch and node it came from
 * (engine/run/result-cache.ts).
 *
 * The key's code part is fixed here, where the electron is written: a hash of the function's
 * text and of what it asks for around it (deps, callBefore/callAfter, files). Like Prefect's
 * task-source policy, that is the electron's own text, not the helpers it calls: a change to
 * a helper in another function does not miss. `version` is the switch for that (bump it), and
 * `valence cache clear` the other.
 */
import { createHash } from "node:crypto";
import type { CachePolicy } from "./graph.js";
import { checkDuration, OptionsError } from "./options.js";
import type { TaskSetup } from "../executor/task-setup.js";

export type { CachePolicy };

export interface CacheOptions {
  /** Milliseconds a result may be reused for (default: until cleared). */
  readonly ttl?: number;
  /** Part of the key: change it to stop reusing results, after a change the code hash does not see. */
  readonly version?: string;
}

const KEYS = ["ttl", "version"];

/** Checks an electron's `cache` option and fixes its code hash; undefined when it does not cache. */
export function checkCache(where: string, value: unknown, fn: (...args: never[]) => unknown, setup: TaskSetup | undefined): CachePolicy | undefined {
  if (value === undefined || value === false) return undefined;
  let ttl: number | undefined;
  let version: string | undefined;
  if (value !== true) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new OptionsError(`${where}: "cache" must be true, false or { ttl, version }, got ${value === null ? "null" : Array.isArray(value) ? "an array" : `${typeof value} ${JSON.stringify(value)}`}`);
    }
    for (const k of Object.keys(value)) {
      if (!KEYS.includes(k)) throw new OptionsError(`${where}: unknown "cache" option "${k}" (known: ${KEYS.join(", ")})`);
    }
    const o = value as CacheOptions;
    ttl = checkDuration(where, "cache.ttl", o.ttl);
    if (o.version !== undefined && (typeof o.version !== "string" || o.version.length === 0)) {
      throw new OptionsError(`${where}: "cache.version" must be a non-empty string, got ${typeof o.version} ${JSON.stringify(o.version)}`);
    }
    version = o.version;
  }
  return { code: codeHash(fn, setup), ttl: ttl ?? null, ...(version !== undefined && { version }) };
}

/** A hash of the function's text and its set-up, functions in it by their text too. */
export function codeHash(fn: (...args: never[]) => unknown, setup: TaskSetup | undefined): string {
  const h = createHash("sha256");
  h.update(Function.prototype.toString.call(fn));
  h.update("\0");
  if (setup) h.update(describeSetup(setup));
  return h.digest("hex");
}

function describeSetup(setup: TaskSetup): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(setup, (_key, v: unknown) => {
    if (typeof v === "function") return `fn:${Function.prototype.toString.call(v)}`;
    if (typeof v === "symbol" || typeof v === "bigint") return String(v);
    if (v !== null && typeof v === "object") {
      if (seen.has(v)) return "[seen]";
      seen.add(v);
      // A strategy instance: its class says what it does (its fields may hold credentials, only hashed).
      const name = (v as object).constructor?.name;
      if (name && name !== "Object" && name !== "Array") return { class: name, ...(v as Record<string, unknown>) };
    }
    return v;
  });
}
