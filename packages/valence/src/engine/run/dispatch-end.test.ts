import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decode } from "../../codec/index.js";
import { TaskCancelledError, TaskFailedError, UnsendableValueError } from "../../errors.js";
import { dispatchOutcome } from "./dispatch-end.js";

const label = (n: number) => `"add(${n})"`;

describe("dispatchOutcome", () => {
  it("a completed dispatch has its filled-in value, encoded for the store", () => {
    const end = dispatchOutcome("COMPLETED", () => ({ total: 3 }), undefined, label);
    assert.deepEqual([end.status, end.value, end.error], ["COMPLETED", { total: 3 }, undefined]);
    assert.deepEqual(decode(end.encodedOutput as string), { total: 3 });
  });

  it("a completed dispatch whose value cannot be stored fails, saying why", () => {
    const end = dispatchOutcome("COMPLETED", () => ({ handler: () => 1 }), undefined, label);
    assert.equal(end.status, "FAILED");
    assert.ok(end.error instanceof UnsendableValueError, String(end.error));
    assert.equal(end.encodedOutput, undefined);
  });

  it("a failed dispatch names its first failed node and keeps only the user's frames", () => {
    const cause = new RangeError("bad input");
    cause.stack = "RangeError: bad input\n    at userCode (/home/me/flow.ts:3:9)\n    at Object.run (/home/me/flow.ts:9:1)";
    const end = dispatchOutcome("FAILED", () => assert.fail("not filled"), { node: 4, error: cause }, label);
    assert.ok(end.error instanceof TaskFailedError);
    assert.equal(end.error.message, 'node "add(4)" failed: bad input');
    assert.equal(end.error.cause, cause);
    assert.equal(end.error.stack, 'TaskFailedError: node "add(4)" failed: bad input\n    at userCode (/home/me/flow.ts:3:9)\n    at Object.run (/home/me/flow.ts:9:1)');
  });

  it("a completed dispatch whose value cannot be put together fails with that error", () => {
    const end = dispatchOutcome("COMPLETED", () => { throw new RangeError("hole 3 has no value"); }, undefined, label);
    assert.equal(end.status, "FAILED");
    assert.ok(end.error instanceof RangeError && end.error.message === "hole 3 has no value");
  });

  it("a failed dispatch without a failed node of its own (a sublattice's, a store refusal) ends FAILED with no error to add", () => {
    const end = dispatchOutcome("FAILED", () => assert.fail("not filled"), undefined, label);
    assert.deepEqual([end.status, end.error, end.encodedOutput], ["FAILED", undefined, undefined]);
  });

  it("a cancelled dispatch ends with TaskCancelledError", () => {
    const end = dispatchOutcome("CANCELLED", () => assert.fail("not filled"), undefined, label);
    assert.ok(end.error instanceof TaskCancelledError);
    assert.equal(end.status, "CANCELLED");
  });
});
