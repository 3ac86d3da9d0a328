/**
 * The arithmetic of a retry policy (sdk/retry.ts), with no clock and no randomness of its
 * own: the caller passes the random draw, so the scheduler stays a pure function and tests
 * pick the draw.
 */
import type { RetryMatcher, RetryPolicy } from "../../sdk/retry.js";

/**
 * Milliseconds to wait after the `failed`th try failed: `initial × factor^(failed − 1)`,
 * capped at `maxDelay`; with jitter, somewhere between half of that and all of it
 * ("equal jitter": spread out, yet never a retry at once after a long delay).
 * `random` is a draw in [0, 1).
 */
export function retryDelay(policy: RetryPolicy, failed: number, random: number): number {
  const exponent = Math.max(0, failed - 1);
  const full = Math.min(policy.maxDelay, policy.initial * policy.factor ** exponent);
  if (!policy.jitter) return Math.round(full);
  return Math.round(full / 2 + (full / 2) * Math.min(Math.max(random, 0), 1));
}

/** Whether the policy retries this error (every error when it names none). */
export function retriesOn(policy: RetryPolicy | undefined, error: { readonly name: string; readonly message: string }): boolean {
  const on = policy?.on;
  if (!on) return true;
  return on.some((m) => matches(m, error));
}

function matches(m: RetryMatcher, error: { readonly name: string; readonly message: string }): boolean {
  if ("name" in m) return m.name === error.name;
  return new RegExp(m.pattern, m.flags).test(`${error.name}: ${error.message}`);
}
