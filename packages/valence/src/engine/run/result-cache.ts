/**
 * The result cache around a cached electron's run (`cache: true`, sdk/cache.ts).
 *
 * The key is a sha256 of the electron's code hash (its function's text and set-up, fixed where
 * it is written), its `version`, and its inputs as the codec encodes them: the same code on the
 * same inputs is the same key in every process and every dispatch, whichever executor it is
 * given to (where a task runs does not change what it returns). DispatchRun looks the key up
 * before it hands the task to its executor; a hit completes the node with the stored output,
 * and a fresh result is kept under the key in the same write that completes its node.
 */
import { createHash } from "node:crypto";
import { encode } from "../../codec/index.js";
import { asCacheKey, type CacheKey } from "../../ids.js";
import type { CachePolicy } from "../../sdk/graph.js";

/** Bumped if what goes into a key changes, so old entries stop matching. */
const KEY_FORMAT = "valence-cache-1";

/** The key of running an electron with `policy` on `args`; undefined when the inputs cannot be encoded (it runs uncached). */
export function cacheKey(policy: CachePolicy, args: readonly unknown[]): CacheKey | undefined {
  let inputs: string;
  try {
    inputs = encode(args, "the inputs of a cached electron");
  } catch {
    return undefined;
  }
  return asCacheKey(createHash("sha256").update(JSON.stringify([KEY_FORMAT, policy.code, policy.version ?? null, inputs])).digest("hex"));
}

/** When a result kept now stops being reused; null: until cleared. */
export function expiresAt(policy: CachePolicy, now: number): number | null {
  return policy.ttl === null ? null : now + policy.ttl;
}
