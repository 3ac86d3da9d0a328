import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkCache, codeHash } from "./cache.js";
import { DepsBash, DepsCall, taskSetupOf } from "./deps.js";

const f = (x: number) => x + 1;
const g = (x: number) => x + 2;

describe("cache option", () => {
  it("hashes the function's text and its set-up: the same text is the same hash, a change of either is another", () => {
    assert.equal(codeHash(f, undefined), codeHash((x: number) => x + 1, undefined));
    assert.notEqual(codeHash(f, undefined), codeHash(g, undefined));
    const bash = taskSetupOf("here", { deps: DepsBash("echo a") });
    const other = taskSetupOf("here", { deps: DepsBash("echo b") });
    assert.notEqual(codeHash(f, bash), codeHash(f, undefined));
    assert.notEqual(codeHash(f, bash), codeHash(f, other));
    // A DepsCall's function counts by its text too.
    const callA = taskSetupOf("here", { callBefore: DepsCall(() => 1) });
    const callB = taskSetupOf("here", { callBefore: DepsCall(() => 2) });
    assert.notEqual(codeHash(f, callA), codeHash(f, callB));
    assert.match(codeHash(f, undefined), /^[0-9a-f]{64}$/);
  });

  it("turns true and { ttl, version } into a policy, and false or nothing into none", () => {
    assert.equal(checkCache("here", undefined, f, undefined), undefined);
    assert.equal(checkCache("here", false, f, undefined), undefined);
    assert.deepEqual(checkCache("here", true, f, undefined), { code: codeHash(f, undefined), ttl: null });
    assert.deepEqual(checkCache("here", { ttl: 5000, version: "2" }, f, undefined), { code: codeHash(f, undefined), ttl: 5000, version: "2" });
    assert.throws(() => checkCache("here", [], f, undefined), /here: "cache" must be true, false or \{ ttl, version \}, got an array/);
    assert.throws(() => checkCache("here", null, f, undefined), /got null/);
  });
});
