/**
 * The store contract: what every Store driver must do, as tests. A driver's
 * test file calls `storeContract("sqlite", (dataDir) => new SqliteStore(dataDir))`;
 * each test opens a fresh store in a fresh data dir.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { newDispatchId, type DispatchId } from "../../../ids.js";
import type { DispatchRecord, NodeRecord } from "../records.js";
import { LARGE_VALUE_BYTES, type Store } from "../store.js";

export function dispatchRecord(id: DispatchId, resultsDir: string, over: Partial<DispatchRecord> = {}): DispatchRecord {
  return {
    id, parentId: null, parentNode: null, name: "wf", latticeId: "wf.ts:1", status: "NEW_OBJECT", inputs: "[]", output: null,
    outputTemplate: "[]", error: null, createdAt: 1, startedAt: null, endedAt: null, resultsDir, bundlePath: null, entryFile: null,
    cwd: "/", ownerPid: 1, ownerHost: "h", ownerLock: null, nodeCount: 0, nodesDone: 0, ...over,
  };
}

export function nodeRecord(i: number, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    nodeId: i, kind: "electron", name: `n${i}`, electronId: "e", status: "NEW_OBJECT", executor: '"inline"', retries: 0, timeoutMs: null,
    key: null, holes: null, value: null, output: null, outputFile: null, stdout: null, stderr: null, error: null, attempts: 0,
    startedAt: null, endedAt: null, bundlePath: null, ...over,
  };
}

const ARG0 = '{"kind":"arg","index":0}';

export function storeContract(driver: string, open: (dataDir: string) => Store): void {
  const dirs: string[] = [];
  const stores: Store[] = [];
  after(() => {
    for (const s of stores) s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  /** A fresh store, its data dir, and a dispatch of `n` chained nodes stored in it. */
  function fresh(n = 0, over: Partial<DispatchRecord> = {}): { store: Store; dir: string; id: DispatchId; results: string } {
    const dir = mkdtempSync(join(tmpdir(), `valence-store-${driver}-`));
    dirs.push(dir);
    const store = open(dir);
    stores.push(store);
    const id = newDispatchId();
    const results = join(dir, "results", id);
    if (n > 0 || Object.keys(over).length) {
      const nodes = Array.from({ length: n }, (_, i) => nodeRecord(i));
      const edges = Array.from({ length: Math.max(0, n - 1) }, (_, i) => ({ source: i, target: i + 1, param: ARG0 }));
      store.insertDispatch(dispatchRecord(id, results, { nodeCount: n, ...over }), nodes, edges);
    }
    return { store, dir, id, results };
  }

  describe(`store contract: ${driver}`, () => {
    it("stores a dispatch with its nodes and edges and reads them back as stored", () => {
      const { store, dir, id, results } = fresh(250);
      assert.equal(store.dataDir, dir);
      const d = store.getDispatch(id) as DispatchRecord;
      assert.deepEqual(
        [d.id, d.name, d.status, d.nodeCount, d.nodesDone, d.resultsDir, d.inputs, d.outputTemplate, d.parentId],
        [id, "wf", "NEW_OBJECT", 250, 0, results, "[]", "[]", null],
      );
      const nodes = store.getNodes(id);
      assert.equal(nodes.length, 250);
      assert.deepEqual(nodes.map((n) => n.nodeId), Array.from({ length: 250 }, (_, i) => i), "in node id order");
      assert.deepEqual([nodes[249]?.name, nodes[0]?.executor, nodes[0]?.status], ["n249", '"inline"', "NEW_OBJECT"]);
      const edges = store.getEdges(id);
      assert.equal(edges.length, 249);
      assert.deepEqual(edges[10], { source: 10, target: 11, param: ARG0 });
      assert.equal(store.getDispatch("dsp_nosuchdispatch"), undefined);
    });

    it("records running, completed and ended nodes with their attempts, times and logs", () => {
      const { store, id, results } = fresh(4);
      store.nodeRunning(id, 1, 2, 5);
      store.nodesCompleted(id, results, [
        { node: 0, encoded: "10", stdout: "out", stderr: "", at: 9, startedAt: 6, attempt: 1 },
        { node: 1, encoded: "11", stdout: "", stderr: "warn", at: 9, startedAt: 6, attempt: null },
      ]);
      store.nodeEnded(id, 2, "FAILED", '"boom"', { stdout: "so far", stderr: "" }, 10);
      store.nodeEnded(id, 3, "CANCELLED", '"cancelled"', undefined, 11);
      const [a, b, c, d] = store.getNodes(id) as [NodeRecord, NodeRecord, NodeRecord, NodeRecord];
      assert.deepEqual([a.status, a.output, a.stdout, a.attempts, a.startedAt, a.endedAt], ["COMPLETED", "10", "out", 1, 6, 9]);
      // Its RUNNING mark was written: attempt and start time come from there.
      assert.deepEqual([b.status, b.output, b.stderr, b.attempts, b.startedAt], ["COMPLETED", "11", "warn", 2, 5]);
      assert.deepEqual([c.status, c.error, c.stdout, c.endedAt], ["FAILED", '"boom"', "so far", 10]);
      assert.deepEqual([d.status, d.error, d.endedAt], ["CANCELLED", '"cancelled"', 11]);
      assert.equal(store.readOutput(a), "10");
      assert.equal(store.readOutput(c), null);
    });

    it("keeps an output over LARGE_VALUE_BYTES in a file under the results dir, and reads it back whole", () => {
      const { store, id, results } = fresh(1);
      const big = JSON.stringify("x".repeat(LARGE_VALUE_BYTES + 10));
      store.nodesCompleted(id, results, [{ node: 0, encoded: big, stdout: "", stderr: "", at: 2, startedAt: 1, attempt: 1 }]);
      const row = store.getNodes(id)[0] as NodeRecord;
      assert.equal(row.output, null);
      assert.ok(row.outputFile?.startsWith(results), `${row.outputFile} should be under ${results}`);
      assert.equal(readFileSync(row.outputFile as string, "utf8"), big);
      assert.equal(store.readOutput(row), big);
    });

    it("counts settled nodes; keeps a dispatch's first start; sets its end with `ended`; keeps output and error not given again", () => {
      const { store, id } = fresh(3);
      store.countDone(id, 2);
      store.countDone(id, 1);
      store.dispatchStatus(id, "RUNNING", 5);
      store.dispatchStatus(id, "RUNNING", 6);
      assert.deepEqual(store.unfinishedDispatches().map((x) => x.id), [id]);
      assert.equal(store.getDispatch(id)?.endedAt, null);
      store.dispatchStatus(id, "COMPLETED", 9, { ended: true, output: '"done"' });
      let d = store.getDispatch(id) as DispatchRecord;
      assert.deepEqual([d.status, d.nodesDone, d.startedAt, d.endedAt, d.output, d.error], ["COMPLETED", 3, 5, 9, '"done"', null]);
      store.dispatchStatus(id, "FAILED", 10, { ended: true, error: '"late"' });
      d = store.getDispatch(id) as DispatchRecord;
      assert.deepEqual([d.status, d.startedAt, d.endedAt, d.output, d.error], ["FAILED", 5, 10, '"done"', '"late"']);
      assert.deepEqual(store.unfinishedDispatches(), []);
    });

    it("appends events in order and reads those after an id", () => {
      const { store, id } = fresh(4);
      store.event(id, 3, "retry", "boom", 3, 7);
      store.event(id, null, "finished", "COMPLETED", null, 8);
      const events = store.getEvents(id);
      assert.deepEqual(events.map((e) => [e.dispatchId, e.nodeId, e.kind, e.detail, e.cause, e.at]), [
        [id, 3, "retry", "boom", 3, 7],
        [id, null, "finished", "COMPLETED", null, 8],
      ]);
      assert.ok((events[0]?.id as number) < (events[1]?.id as number));
      assert.deepEqual(store.getEvents(id, events[0]?.id).map((e) => e.kind), ["finished"]);
    });

    it("a batch is all or nothing: a throw inside rolls back every write of it, and the store goes on", () => {
      const { store, id, results } = fresh(2);
      assert.throws(
        () =>
          store.batch(() => {
            store.nodesCompleted(id, results, [{ node: 0, encoded: "1", stdout: "", stderr: "", at: 2, startedAt: 1, attempt: 1 }]);
            store.countDone(id, 1);
            store.event(id, 0, "x", null, null, 2);
            throw new RangeError("refused inside the batch");
          }),
        RangeError,
      );
      assert.equal(store.getNodes(id)[0]?.status, "NEW_OBJECT");
      assert.equal(store.getDispatch(id)?.nodesDone, 0);
      assert.deepEqual(store.getEvents(id), []);
      assert.equal(store.batch(() => (store.countDone(id, 1), "kept")), "kept");
      assert.equal(store.getDispatch(id)?.nodesDone, 1);
    });

    it("keeps sources by electron, owners, children, and restored nodes of a redispatch", () => {
      const { store, id, results } = fresh(2);
      store.insertSources(id, { "a.ts:1": "const a = electron(...)", "b.ts:2": "const b = electron(...)" });
      assert.deepEqual(store.getSources(id), { "a.ts:1": "const a = electron(...)", "b.ts:2": "const b = electron(...)" });
      store.setOwner(id, 4242, "host-b", "lock-token");
      const d = store.getDispatch(id) as DispatchRecord;
      assert.deepEqual([d.ownerPid, d.ownerHost, d.ownerLock], [4242, "host-b", "lock-token"]);
      const child = newDispatchId();
      store.insertDispatch(dispatchRecord(child, results, { parentId: id, parentNode: 1, createdAt: 2 }), [], []);
      assert.deepEqual(store.childDispatches(id).map((c) => [c.id, c.parentNode]), [[child, 1]]);
      assert.deepEqual(store.listDispatches(10).map((x) => x.id), [id], "children are not listed at the top level");
      const again = newDispatchId();
      store.insertDispatch(dispatchRecord(again, results, { nodeCount: 1 }), [nodeRecord(0, { status: "COMPLETED", output: "7" })], []);
      store.restoreNodes(again, [nodeRecord(0, { status: "COMPLETED", output: "7", stdout: "kept", attempts: 2, startedAt: 3, endedAt: 4 })]);
      const n = store.getNodes(again)[0] as NodeRecord;
      assert.deepEqual([n.status, n.output, n.stdout, n.attempts, n.startedAt, n.endedAt], ["COMPLETED", "7", "kept", 2, 3, 4]);
    });

    it("lists, counts and finds top-level dispatches for the dashboard: newest first, by status, by a literal substring, paged", () => {
      const { store } = fresh();
      const ids: DispatchId[] = [];
      const names = ["train_100%", "train_1000", "eval", "train-x", "train-1x"];
      names.forEach((name, i) => {
        const id = newDispatchId();
        ids.push(id);
        store.insertDispatch(dispatchRecord(id, "/r", { name, createdAt: 10 + i, nodeCount: i }), [], []);
      });
      store.dispatchStatus(ids[2] as DispatchId, "COMPLETED", 20, { ended: true });
      assert.deepEqual(store.listDispatches(2).map((d) => d.name), ["train-1x", "train-x"]);
      assert.equal(store.newestDispatch(), ids[4]);
      assert.deepEqual(store.countByStatus(), { NEW_OBJECT: 4, COMPLETED: 1 });
      const all = store.findDispatches({ limit: 10, offset: 0 });
      assert.equal(all.total, 5);
      assert.deepEqual(all.rows.map((r) => r.name), ["train-1x", "train-x", "eval", "train_1000", "train_100%"]);
      assert.deepEqual(Object.keys(all.rows[0] ?? {}).sort(), ["createdAt", "endedAt", "id", "name", "nodeCount", "nodesDone", "startedAt", "status"]);
      // `_` and `%` are literal: as a wildcard "train_1" would also match "train-1x".
      assert.deepEqual(store.findDispatches({ search: "train_1", limit: 10, offset: 0 }).rows.map((r) => r.name), ["train_1000", "train_100%"]);
      assert.deepEqual(store.findDispatches({ search: "0%", limit: 10, offset: 0 }).rows.map((r) => r.name), ["train_100%"]);
      assert.deepEqual(store.findDispatches({ search: ids[2] as string, limit: 10, offset: 0 }).rows.map((r) => r.name), ["eval"], "by id");
      assert.deepEqual(store.findDispatches({ statuses: ["COMPLETED"], limit: 10, offset: 0 }).rows.map((r) => r.name), ["eval"]);
      const page = store.findDispatches({ limit: 2, offset: 2 });
      assert.deepEqual([page.total, page.rows.map((r) => r.name)], [5, ["eval", "train_1000"]]);
      assert.deepEqual(store.findDispatches({ search: "nothing like it", limit: 10, offset: 0 }), { total: 0, rows: [] });
    });

    it("an empty store answers every read with nothing", () => {
      const { store } = fresh();
      assert.deepEqual(store.listDispatches(), []);
      assert.deepEqual(store.unfinishedDispatches(), []);
      assert.equal(store.newestDispatch(), null);
      assert.deepEqual(store.countByStatus(), {});
      assert.deepEqual(store.findDispatches({ limit: 5, offset: 0 }), { total: 0, rows: [] });
    });
  });
}
