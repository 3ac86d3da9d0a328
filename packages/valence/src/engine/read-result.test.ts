import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { encode } from "../codec/index.js";
import { newDispatchId } from "../ids.js";
import { readResult } from "./read-result.js";
import { SqliteStore } from "./store/sqlite-store.js";
import { LARGE_VALUE_BYTES, type Store } from "./store/store.js";
import { dispatchRecord, nodeRecord } from "./store/test-support/store-contract.js";

const dir = mkdtempSync(join(tmpdir(), "valence-read-result-"));
const store = new SqliteStore(dir);
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The same store as a network driver would be: no in-process reads. */
function remote(s: Store): Store {
  return new Proxy(s, {
    get(target, key) {
      if (key === "inProcess") return undefined;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("readResult", () => {
  it("reads the same result from an in-process store (nodes read when looked at) and from one across a network (read at once)", async () => {
    const id = newDispatchId();
    const results = join(dir, "results", id);
    const big = "z".repeat(LARGE_VALUE_BYTES + 5);
    await store.write((w) => {
      w.insertDispatch(dispatchRecord(id, results, { nodeCount: 2, inputs: encode([1]), outputTemplate: encode({ value: null, holes: [] }) }), [nodeRecord(0), nodeRecord(1)], []);
      w.nodesCompleted(id, results, [
        { node: 0, encoded: encode(41), stdout: "hi\n", stderr: "", at: 3, startedAt: 2, attempt: 1 },
        { node: 1, encoded: encode(big), stdout: "", stderr: "", at: 3, startedAt: 2, attempt: 1 },
      ]);
      w.dispatchStatus(id, "COMPLETED", 4, { ended: true, output: encode([41, big]) });
    });
    let reads = 0;
    const inProcess = store.inProcess;
    const counting: Store = new Proxy(store, {
      get(target, key) {
        if (key === "inProcess") return { ...inProcess, getNodes: (d: never) => (reads++, inProcess.getNodes(d)) };
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const local = await readResult(counting, id);
    assert.equal(reads, 0, "no node is read until the nodes are looked at");
    assert.deepEqual(local.result, [41, big]);
    const far = await readResult(remote(store), id);
    for (const r of [local, far]) {
      assert.deepEqual(r.nodes.map((n) => [n.name, n.status, n.output, n.stdout]), [["n0", "COMPLETED", 41, "hi\n"], ["n1", "COMPLETED", big, ""]]);
    }
    assert.equal(reads, 1);
    assert.equal((await readResult(remote(store), id, true)).nodes.length, 0, "statusOnly reads no node");
  });
});
