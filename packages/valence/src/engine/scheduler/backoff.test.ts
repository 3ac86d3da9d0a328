import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { retriesOn, retryDelay } from "./backoff.js";

describe("retry backoff", () => {
  const policy = { initial: 1000, factor: 2, maxDelay: 5000, jitter: false };

  it("doubles from the first delay and stops at the maximum", () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => retryDelay(policy, n, 0.3)), [1000, 2000, 4000, 5000, 5000]);
    assert.deepEqual([1, 2, 3].map((n) => retryDelay({ ...policy, factor: 1 }, n, 0)), [1000, 1000, 1000]);
  });

  it("with jitter, draws between half the delay and all of it", () => {
    const jittered = { ...policy, jitter: true };
    assert.equal(retryDelay(jittered, 3, 0), 2000);
    assert.equal(retryDelay(jittered, 3, 0.5), 3000);
    assert.equal(retryDelay(jittered, 3, 0.999999), 4000);
    assert.equal(retryDelay(jittered, 9, 0), 2500, "the cap applies before the draw");
  });

  it("retries every error unless the policy names some, by name or by pattern on 'Name: message'", () => {
    assert.equal(retriesOn(undefined, { name: "TypeError", message: "x" }), true);
    assert.equal(retriesOn(policy, { name: "TypeError", message: "x" }), true);
    const on = { ...policy, on: [{ name: "TaskTimeoutError" }, { pattern: "^FetchError: .*50\\d", flags: "i" }] };
    assert.equal(retriesOn(on, { name: "TaskTimeoutError", message: "task timed out" }), true);
    assert.equal(retriesOn(on, { name: "FetchError", message: "HTTP 503" }), true);
    assert.equal(retriesOn(on, { name: "FetchError", message: "HTTP 404" }), false);
    assert.equal(retriesOn(on, { name: "TypeError", message: "TaskTimeoutError" }), false);
  });
});
