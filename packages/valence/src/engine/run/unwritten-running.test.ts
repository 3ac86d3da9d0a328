import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UnwrittenRunning } from "./unwritten-running.js";

describe("UnwrittenRunning", () => {
  it("hands out the marks of nodes started in earlier turns, in start order, once each", () => {
    const u = new UnwrittenRunning(6);
    u.add(4, 1, 1);
    u.add(2, 1, 1);
    u.add(5, 1, 2);
    assert.equal(u.size, 3);
    assert.deepEqual(u.olderThan(2), [4, 2]);
    for (const n of [4, 2]) u.delete(n);
    assert.deepEqual(u.olderThan(3), [5]);
    assert.equal(u.attempt(5), 1);
    assert.equal(u.delete(5), true);
    assert.equal(u.delete(5), false);
    assert.equal(u.attempt(5), null);
    assert.equal(u.size, 0);
    assert.deepEqual(u.olderThan(9), []);
  });

  it("keeps a retried node once, with its new attempt and turn", () => {
    const u = new UnwrittenRunning(2);
    u.add(1, 1, 1);
    u.delete(1); // its RUNNING mark was written when it failed
    u.add(1, 2, 3);
    assert.deepEqual(u.olderThan(3), []);
    assert.deepEqual(u.olderThan(4), [1]);
    assert.equal(u.attempt(1), 2);
    assert.equal(u.size, 1);
  });
});
