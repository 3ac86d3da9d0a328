import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cacheKey, expiresAt } from "./result-cache.js";

const policy = { code: "c".repeat(64), ttl: null };

describe("result cache keys", () => {
  it("is the same for the same code and inputs, and differs when the inputs, the code or the version do", () => {
    const k = cacheKey(policy, [1, { a: [2, 3] }]);
    assert.match(k ?? "", /^[0-9a-f]{64}$/);
    assert.equal(cacheKey(policy, [1, { a: [2, 3] }]), k);
    assert.notEqual(cacheKey(policy, [1, { a: [2, 4] }]), k);
    assert.notEqual(cacheKey(policy, [{ a: [2, 3] }, 1]), k, "argument order counts");
    assert.notEqual(cacheKey({ ...policy, code: "d".repeat(64) }, [1, { a: [2, 3] }]), k);
    assert.notEqual(cacheKey({ ...policy, version: "2" }, [1, { a: [2, 3] }]), k);
    // Values the codec knows beyond JSON key apart too.
    assert.notEqual(cacheKey(policy, [new Date(0)]), cacheKey(policy, [new Date(1)]));
    assert.notEqual(cacheKey(policy, [new Map([[1, 2]])]), cacheKey(policy, [new Map([[1, 3]])]));
  });

  it("has no key for inputs the codec cannot encode (the task then runs uncached)", () => {
    assert.equal(cacheKey(policy, [() => 1]), undefined);
  });

  it("expires a ttl after it is made; no ttl never", () => {
    assert.equal(expiresAt(policy, 1000), null);
    assert.equal(expiresAt({ ...policy, ttl: 250 }, 1000), 1250);
  });
});
