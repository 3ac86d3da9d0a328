/**
 * The store contract: what every Store driver must do, as tests. A driver's
 * test file calls `storeContract("sqlite", (dataDir) => new SqliteStore(dataDir))`;
 * each test opens a fresh store in a fresh data dir.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { asCacheKey, newDispatchId, type CacheKey, type DispatchId } from "../../../ids.js";
import type { DispatchRecord, NodeRecord } from "../records.js";
import { triggerContract } from "./trigger-contract.js";
import { LARGE_VALUE_BYTES, type DispatchQuery, type Store } from "../store.js";

export function dispatchRecord(id: DispatchId, resultsDir: string, over: Partial<DispatchRecord> = {}): DispatchRecord {
  return {
    id, parentId: null, parentNode: null, name: "wf", latticeId: "wf.ts:1", status: "NEW_OBJECT", inputs: "[]", output: null,
    outputTemplate: "[]", error: null, createdAt: 1, startedAt: null, endedAt: null, resultsDir, bundlePath: null, entryFile: null,
    cwd: "/", ownerPid: 1, ownerHost: "h", ownerLock: null, nodeCount: 0, nodesDone: 0, ...over,
  };
}

export function nodeRecord(i: number, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    nodeId: i, kind: "electron", name: `n${i}`, electronId: "e", status: "NEW_OBJECT", executor: '"inline"', retries: 0, retryPolicy: null, timeoutMs: null,
    key: null, holes: null, value: null, output: null, outputFile: null, stdout: null, stderr: null, error: null, attempts: 0, retryAt: null,
    startedAt: null, endedAt: null, lane: null, bundlePath: null, cachePolicy: null, cachedFrom: null, ...over,
  };
}

const ARG0 = '{"kind":"arg","index":0}';

export function storeContract(driver: string, open: (dataDir: string) => Store | Promise<Store>): void {
  triggerContract(driver, open);
  const dirs: string[] = [];
  const stores: Store[] = [];
  after(async () => {
    for (const s of stores) await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  /** A fresh store, its data dir, and a dispatch of `n` chained nodes stored in it. */
  async function fresh(n = 0, over: Partial<DispatchRecord> = {}): Promise<{ store: Store; dir: string; id: DispatchId; results: string }> {
    const dir = mkdtempSync(join(tmpdir(), `valence-store-${driver}-`));
    dirs.push(dir);
    const store = await open(dir);
    stores.push(store);
    const id = newDispatchId();
    const results = join(dir, "results", id);
    if (n > 0 || Object.keys(over).length) {
      const nodes = Array.from({ length: n }, (_, i) => nodeRecord(i));
      const edges = Array.from({ length: Math.max(0, n - 1) }, (_, i) => ({ source: i, target: i + 1, param: ARG0 }));
      await store.write((w) => w.insertDispatch(dispatchRecord(id, results, { nodeCount: n, ...over }), nodes, edges));
    }
    return { store, dir, id, results };
  }
  const completed = (node: number, encoded: string) => ({ node, encoded, stdout: "", stderr: "", at: 2, startedAt: 1, attempt: 1 });

  describe(`store contract: ${driver}`, () => {
    it("stores a dispatch with its nodes and edges and reads them back as stored", async () => {
      const { store, dir, id, results } = await fresh(250);
      assert.equal(store.dataDir, dir);
      const d = (await store.getDispatch(id)) as DispatchRecord;
      assert.deepEqual(
        [d.id, d.name, d.status, d.nodeCount, d.nodesDone, d.resultsDir, d.inputs, d.outputTemplate, d.parentId],
        [id, "wf", "NEW_OBJECT", 250, 0, results, "[]", "[]", null],
      );
      const nodes = await store.getNodes(id);
      assert.equal(nodes.length, 250);
      assert.deepEqual(nodes.map((n) => n.nodeId), Array.from({ length: 250 }, (_, i) => i), "in node id order");
      assert.deepEqual([nodes[249]?.name, nodes[0]?.executor, nodes[0]?.status], ["n249", '"inline"', "NEW_OBJECT"]);
      const edges = await store.getEdges(id);
      assert.equal(edges.length, 249);
      assert.deepEqual(edges[10], { source: 10, target: 11, param: ARG0 });
      assert.equal(await store.getDispatch("dsp_nosuchdispatch"), undefined);
    });

    it("records running, completed and ended nodes with their attempts, times and logs", async () => {
      const { store, id, results } = await fresh(4);
      await store.write((w) => w.nodeRunning(id, 1, 2, 5));
      await store.write((w) => {
        w.nodesCompleted(id, results, [
          { node: 0, encoded: "10", stdout: "out", stderr: "", at: 9, startedAt: 6, attempt: 1 },
          { node: 1, encoded: "11", stdout: "", stderr: "warn", at: 9, startedAt: 6, attempt: null },
        ]);
        w.nodeEnded(id, 2, "FAILED", '"boom"', { stdout: "so far", stderr: "" }, 10);
        w.nodeEnded(id, 3, "CANCELLED", '"cancelled"', undefined, 11);
      });
      const [a, b, c, d] = (await store.getNodes(id)) as [NodeRecord, NodeRecord, NodeRecord, NodeRecord];
      assert.deepEqual([a.status, a.output, a.stdout, a.attempts, a.startedAt, a.endedAt], ["COMPLETED", "10", "out", 1, 6, 9]);
      // Its RUNNING mark was written: attempt and start time come from there.
      // Its RUNNING mark's attempt stands; its start is the one the completion gives (when the body began).
      assert.deepEqual([b.status, b.output, b.stderr, b.attempts, b.startedAt], ["COMPLETED", "11", "warn", 2, 6]);
      assert.deepEqual([c.status, c.error, c.stdout, c.endedAt], ["FAILED", '"boom"', "so far", 10]);
      assert.deepEqual([d.status, d.error, d.endedAt], ["CANCELLED", '"cancelled"', 11]);
      assert.equal(await store.readOutput(a), "10");
      assert.equal(await store.readOutput(c), null);
    });

    it("keeps a node's retry policy from its graph, and a failed try's error and due time until the next try starts or the node ends", async () => {
      const { store, dir, results } = await fresh();
      const id = newDispatchId();
      const policy = '{"initial":1000,"factor":2,"maxDelay":60000,"jitter":true,"on":[{"name":"TaskTimeoutError"}]}';
      const nodes = [0, 1, 2].map((i) => nodeRecord(i, { retries: 3, retryPolicy: policy }));
      await store.write((w) => w.insertDispatch(dispatchRecord(id, join(dir, "r")), nodes, []));
      await store.write((w) => {
        for (const n of [0, 1, 2]) w.nodeRunning(id, n, 1, 10);
        // In one write, as a scheduler turn: the RUNNING mark, then the failed try with its due time.
        w.nodeRunning(id, 2, 1, 10);
        w.nodeRetrying(id, 2, 1, "E2", 5000);
      });
      await store.write((w) => {
        w.nodeRetrying(id, 0, 1, "E0", 3000);
        w.nodeRetrying(id, 1, 1, "E1", 4000);
      });
      const waiting = await store.getNodes(id);
      assert.deepEqual(waiting.map((n) => [n.status, n.attempts, n.error, n.retryAt, n.retryPolicy, n.retries]), [
        ["RUNNING", 1, "E0", 3000, policy, 3],
        ["RUNNING", 1, "E1", 4000, policy, 3],
        ["RUNNING", 1, "E2", 5000, policy, 3],
      ]);
      assert.deepEqual(await store.getNodeLogs(id, 2), { status: "RUNNING", stdout: null, stderr: null, attempts: 1, retryAt: 5000 });
      await store.write((w) => {
        w.nodeRunning(id, 0, 2, 3001);
        w.nodesCompleted(id, results, [{ ...completed(1, "1"), attempt: 2 }]);
        w.nodeEnded(id, 2, "FAILED", "E2b", undefined, 6000);
      });
      const moved = await store.getNodes(id);
      assert.deepEqual(moved.map((n) => [n.status, n.attempts, n.error, n.retryAt]), [
        ["RUNNING", 2, null, null],
        ["COMPLETED", 2, null, null],
        ["FAILED", 1, "E2b", null],
      ]);
    });

    it("deletes a dispatch with everything stored of it, and leaves the others whole", async () => {
      const { store, dir, results } = await fresh();
      const [gone, kept] = [newDispatchId(), newDispatchId()];
      const big = JSON.stringify("x".repeat(LARGE_VALUE_BYTES + 10));
      for (const id of [gone, kept]) {
        await store.write((w) => {
          w.insertDispatch(dispatchRecord(id, join(dir, "r", id), { nodeCount: 3 }), [0, 1, 2].map((i) => nodeRecord(i)), [{ source: 0, target: 1, param: ARG0 }]);
          w.insertSources(id, { e: "const e = 1" });
        });
        await store.write((w) => {
          w.nodesCompleted(id, results, [completed(0, "1"), completed(1, big)]);
          w.nodeRunning(id, 2, 1, 5);
          w.liveOutputAppended(id, [{ node: 2, stream: "stdout", text: "hi\n" }], 6);
          w.event(id, 0, "note", "x", null, 7);
          w.dispatchStatus(id, "COMPLETED", 8, { output: "[1]", ended: true });
        });
      }
      await store.write((w) => w.deleteDispatch(gone));
      assert.equal(await store.getDispatch(gone), undefined);
      assert.deepEqual(await store.getNodes(gone), []);
      assert.deepEqual(await store.getEdges(gone), []);
      assert.deepEqual(await store.getEvents(gone), []);
      assert.deepEqual(await store.getLiveOutput(gone, null), []);
      assert.deepEqual(await store.getSources(gone), {});
      assert.equal(await store.getNodeLogs(gone, 0), undefined);
      assert.deepEqual((await store.listDispatches(10)).map((d) => d.id), [kept]);
      // The other is whole, its large output too.
      const nodes = await store.getNodes(kept);
      assert.deepEqual(nodes.map((n) => n.status), ["COMPLETED", "COMPLETED", "RUNNING"]);
      assert.equal(await store.readOutput(nodes[1] as NodeRecord), big);
      assert.equal((await store.getEvents(kept)).length, 1);
      assert.deepEqual(await store.getSources(kept), { e: "const e = 1" });
      assert.equal((await store.getLiveOutput(kept, null)).length, 1);
      // A write to the deleted dispatch is refused, naming it.
      await assert.rejects(store.write((w) => w.nodeRunning(gone, 0, 1, 9)), { name: "StoreError", message: new RegExp(`dispatch ${gone} is not in the store`) });
    });

    it("records where each node ran (its lane): completed and failed nodes; null when unknown; kept when ended without one", async () => {
      const { store, id, results } = await fresh(5);
      await store.write((w) => w.nodeRunning(id, 3, 1, 5));
      await store.write((w) => {
        w.nodesCompleted(id, results, [
          { node: 0, encoded: "10", stdout: "", stderr: "", at: 9, startedAt: 6, attempt: 1, lane: "local worker 1" },
          { node: 1, encoded: "11", stdout: "", stderr: "", at: 9, startedAt: 6, attempt: 1 },
        ]);
        w.nodeEnded(id, 2, "FAILED", '"boom"', { stdout: "", stderr: "" }, 10, "host-a.example");
      });
      // Cancelled after it failed on a lane: the lane it ran on stays.
      await store.write((w) => w.nodeEnded(id, 2, "CANCELLED", '"cancelled"', undefined, 11));
      const nodes = await store.getNodes(id);
      assert.deepEqual(
        nodes.map((n) => n.lane),
        ["local worker 1", null, "host-a.example", null, null],
        "lanes of completed, completed without one, failed then cancelled, running, never run",
      );
      // A node completed again on another lane (a redispatch or a retry): the new lane.
      await store.write((w) => w.nodesCompleted(id, results, [{ node: 0, encoded: "12", stdout: "", stderr: "", at: 12, startedAt: 11, attempt: 2, lane: "inline" }]));
      assert.equal((await store.getNodes(id))[0]?.lane, "inline");
    });

    it("keeps result-cache entries: a lookup finds a live one with its node's output (a large one too), counts hits, and skips expired, removed and deleted ones", async () => {
      const { store, dir, id, results } = await fresh(3, { nodeCount: 3 });
      const [k1, k2, k3] = ["a", "b", "c"].map((c) => asCacheKey(c.repeat(64)));
      const big = JSON.stringify("y".repeat(LARGE_VALUE_BYTES + 10));
      await store.write((w) =>
        w.nodesCompleted(id, results, [
          { ...completed(0, "10"), at: 100, cacheAs: { key: k1 as CacheKey, electron: "square", expiresAt: null } },
          { ...completed(1, big), at: 100, cacheAs: { key: k2 as CacheKey, electron: "big", expiresAt: 500 } },
        ]),
      );
      assert.equal(await store.cacheLookup(k3 as CacheKey, 200), undefined, "no entry of the key");
      const hit = await store.cacheLookup(k1 as CacheKey, 200);
      assert.deepEqual(hit, { entry: { key: k1, electron: "square", dispatchId: id, nodeId: 0, createdAt: 100, expiresAt: null, hits: 0, lastHitAt: null }, encoded: "10" });
      assert.equal((await store.cacheLookup(k2 as CacheKey, 499))?.encoded, big);
      assert.equal(await store.cacheLookup(k2 as CacheKey, 500), undefined, "expired at its expiresAt");

      // A hit in another dispatch: its node names where the output came from, and the entry counts it.
      const other = newDispatchId();
      await store.write((w) => {
        w.insertDispatch(dispatchRecord(other, join(dir, "r", other), { nodeCount: 1 }), [nodeRecord(0)], []);
        w.nodesCompleted(other, results, [{ ...completed(0, "10"), at: 300, cachedFrom: { key: k1 as CacheKey, dispatchId: id, nodeId: 0 } }]);
      });
      assert.deepEqual((await store.getNodes(other))[0]?.cachedFrom, { dispatchId: id, nodeId: 0 });
      assert.equal((await store.getNodes(id))[0]?.cachedFrom, null, "a node that ran names none");
      const entries = await store.cacheEntries();
      assert.deepEqual(entries.map((e) => [e.key, e.hits, e.lastHitAt]).sort(), [[k1, 1, 300], [k2, 0, null]]);

      // A node run again (not COMPLETED now) is no hit; completed afresh under the key, it replaces the entry.
      await store.write((w) => w.nodeRunning(id, 0, 2, 400));
      assert.equal(await store.cacheLookup(k1 as CacheKey, 401), undefined);
      await store.write((w) => w.nodesCompleted(id, results, [{ ...completed(0, "11"), at: 450, cacheAs: { key: k1 as CacheKey, electron: "square", expiresAt: 9000 } }]));
      assert.deepEqual(await store.cacheLookup(k1 as CacheKey, 451), { entry: { key: k1, electron: "square", dispatchId: id, nodeId: 0, createdAt: 450, expiresAt: 9000, hits: 0, lastHitAt: null }, encoded: "11" });

      await store.write((w) => w.cacheRemoved([k2 as CacheKey]));
      assert.deepEqual((await store.cacheEntries()).map((e) => e.key), [k1]);
      // Deleting the dispatch that made an entry deletes the entry; the dispatch that reused it keeps its output.
      await store.write((w) => w.deleteDispatch(id));
      assert.deepEqual(await store.cacheEntries(), []);
      assert.equal(await store.cacheLookup(k1 as CacheKey, 500), undefined);
      assert.equal((await store.getNodes(other))[0]?.output, "10");
    });

    it("keeps an output over LARGE_VALUE_BYTES out of the node row, and reads it back whole", async () => {
      const { store, id, results } = await fresh(1);
      const big = JSON.stringify("x".repeat(LARGE_VALUE_BYTES + 10));
      await store.write((w) => w.nodesCompleted(id, results, [completed(0, big)]));
      const row = (await store.getNodes(id))[0] as NodeRecord;
      assert.equal(row.output, null);
      assert.ok(row.outputFile, "the row names where the output is kept");
      assert.equal(await store.readOutput(row), big);
    });

    it("counts settled nodes; keeps a dispatch's first start; sets its end with `ended`; keeps output and error not given again", async () => {
      const { store, id } = await fresh(3);
      await store.write((w) => {
        w.countDone(id, 2);
        w.countDone(id, 1);
        w.dispatchStatus(id, "RUNNING", 5);
      });
      await store.write((w) => w.dispatchStatus(id, "RUNNING", 6));
      assert.deepEqual((await store.unfinishedDispatches()).map((x) => x.id), [id]);
      assert.equal((await store.getDispatch(id))?.endedAt, null);
      await store.write((w) => w.dispatchStatus(id, "COMPLETED", 9, { ended: true, output: '"done"' }));
      let d = (await store.getDispatch(id)) as DispatchRecord;
      assert.deepEqual([d.status, d.nodesDone, d.startedAt, d.endedAt, d.output, d.error], ["COMPLETED", 3, 5, 9, '"done"', null]);
      await store.write((w) => w.dispatchStatus(id, "FAILED", 10, { ended: true, error: '"late"' }));
      d = (await store.getDispatch(id)) as DispatchRecord;
      assert.deepEqual([d.status, d.startedAt, d.endedAt, d.output, d.error], ["FAILED", 5, 10, '"done"', '"late"']);
      assert.deepEqual(await store.unfinishedDispatches(), []);
    });

    it("appends events in order and reads those after an id", async () => {
      const { store, id } = await fresh(4);
      await store.write((w) => {
        w.event(id, 3, "retry", "boom", 3, 7);
        w.event(id, null, "finished", "COMPLETED", null, 8);
      });
      const events = await store.getEvents(id);
      assert.deepEqual(events.map((e) => [e.dispatchId, e.nodeId, e.kind, e.detail, e.cause, e.at]), [
        [id, 3, "retry", "boom", 3, 7],
        [id, null, "finished", "COMPLETED", null, 8],
      ]);
      assert.ok((events[0]?.id as number) < (events[1]?.id as number));
      assert.deepEqual((await store.getEvents(id, events[0]?.id)).map((e) => e.kind), ["finished"]);
    });

    it("keeps running nodes' live output chunks in order, reads them by node and after an id, and clears a node's or all of them", async () => {
      const { store, id } = await fresh(3);
      await store.write((w) => {
        w.liveOutputAppended(id, [{ node: 0, stream: "stdout", text: "a\n" }, { node: 1, stream: "stderr", text: "b\u0000\n" }], 5);
        w.liveOutputAppended(id, [{ node: 0, stream: "stdout", text: "c €\n" }], 6);
      });
      const all = await store.getLiveOutput(id, null);
      assert.deepEqual(all.map((c) => [c.node, c.stream, c.text, c.at]), [[0, "stdout", "a\n", 5], [1, "stderr", "b\u0000\n", 5], [0, "stdout", "c €\n", 6]]);
      assert.deepEqual((await store.getLiveOutput(id, 0)).map((c) => c.text), ["a\n", "c €\n"]);
      assert.deepEqual((await store.getLiveOutput(id, 0, all[0]?.id)).map((c) => c.text), ["c €\n"]);
      assert.deepEqual(await store.getNodeLogs(id, 0), undefined, "no state row yet: pending");
      await store.write((w) => {
        w.nodeRunning(id, 0, 2, 4);
        w.liveOutputCleared(id, 0);
      });
      assert.deepEqual((await store.getLiveOutput(id, null)).map((c) => c.node), [1]);
      assert.deepEqual(await store.getNodeLogs(id, 0), { status: "RUNNING", stdout: null, stderr: null, attempts: 2, retryAt: null });
      await store.write((w) => w.nodesCompleted(id, "", [{ ...completed(0, "1"), stdout: "whole\n", stderr: "e\n", attempt: 2 }]));
      assert.deepEqual(await store.getNodeLogs(id, 0), { status: "COMPLETED", stdout: "whole\n", stderr: "e\n", attempts: 2, retryAt: null });
      await store.write((w) => w.liveOutputCleared(id, null));
      assert.deepEqual(await store.getLiveOutput(id, null), []);
      // Ids are never reused: a reader following from the last id it saw still sees a new attempt's chunks.
      const lastSeen = Math.max(...all.map((c) => c.id));
      await store.write((w) => w.liveOutputAppended(id, [{ node: 0, stream: "stdout", text: "retry\n" }], 7));
      assert.deepEqual((await store.getLiveOutput(id, 0, lastSeen)).map((c) => c.text), ["retry\n"]);
    });

    it("a write is all or nothing: a throw while filling it, or a write the store refuses, lands none of it, and the store goes on", async () => {
      const { store, id, results } = await fresh(2);
      const big = JSON.stringify("y".repeat(LARGE_VALUE_BYTES + 1));
      await assert.rejects(
        store.write((w) => {
          w.nodesCompleted(id, results, [completed(0, "1")]);
          w.countDone(id, 1);
          w.event(id, 0, "x", null, null, 2);
          throw new RangeError("refused while filling");
        }),
        RangeError,
      );
      // Refused by the store part-way: a node of a dispatch it does not hold, after a large output.
      await assert.rejects(
        store.write((w) => {
          w.nodesCompleted(id, results, [completed(1, big)]);
          w.countDone(id, 1);
          w.nodeRunning("dsp_notstoredanywhere" as DispatchId, 0, 1, 3);
        }),
        /dsp_notstoredanywhere/,
      );
      assert.deepEqual((await store.getNodes(id)).map((n) => n.status), ["NEW_OBJECT", "NEW_OBJECT"]);
      assert.equal((await store.getDispatch(id))?.nodesDone, 0);
      assert.deepEqual(await store.getEvents(id), []);
      assert.deepEqual(listResults(results), [], "no output file is left by a write that did not land");
      await store.write((w) => w.countDone(id, 1));
      assert.equal((await store.getDispatch(id))?.nodesDone, 1);
    });

    it("a transaction reads what it decides on and writes against it: two at once see each other in turn", async () => {
      const { store, id } = await fresh(2);
      // Each claims the dispatch only if no one holds it: exactly one claim wins.
      const claim = (lock: string) =>
        store.transaction(async (tx) => {
          const d = await tx.getDispatch(id);
          await new Promise((r) => setTimeout(r, 20));
          if (d?.ownerLock) return false;
          tx.setOwner(id, 7, "h", lock);
          return true;
        });
      assert.deepEqual(await Promise.all([claim("first"), claim("second")]), [true, false]);
      assert.equal((await store.getDispatch(id))?.ownerLock, "first");
      // A write that comes while a transaction is open lands after it, whole.
      const open = store.transaction(async (tx) => {
        const nodes = await tx.getNodes(id);
        await new Promise((r) => setTimeout(r, 20));
        tx.nodeEnded(id, 1, "FAILED", '"lost"', undefined, 5);
        return nodes.length;
      });
      const meanwhile = store.write((w) => w.countDone(id, 2));
      assert.equal(await open, 2);
      await meanwhile;
      const d = (await store.getDispatch(id)) as DispatchRecord;
      assert.deepEqual([d.nodesDone, (await store.getNodes(id))[1]?.status], [2, "FAILED"]);
      // A throw inside writes nothing of it.
      await assert.rejects(
        store.transaction(async (tx) => {
          tx.countDone(id, 5);
          tx.setOwner(id, 8, "h", "thrown");
          throw new RangeError("changed its mind");
        }),
        RangeError,
      );
      const after = (await store.getDispatch(id)) as DispatchRecord;
      assert.deepEqual([after.nodesDone, after.ownerLock], [2, "first"]);
      assert.deepEqual((await store.transaction(async (tx) => tx.childDispatches(id))), []);
    });

    it("keeps sources by electron, owners, children, and restored nodes of a redispatch", async () => {
      const { store, id, results } = await fresh(2);
      await store.write((w) => w.insertSources(id, { "a.ts:1": "const a = electron(...)", "b.ts:2": "const b = electron(...)" }));
      assert.deepEqual(await store.getSources(id), { "a.ts:1": "const a = electron(...)", "b.ts:2": "const b = electron(...)" });
      await store.write((w) => w.setOwner(id, 4242, "host-b", "lock-token"));
      const d = (await store.getDispatch(id)) as DispatchRecord;
      assert.deepEqual([d.ownerPid, d.ownerHost, d.ownerLock], [4242, "host-b", "lock-token"]);
      const child = newDispatchId();
      await store.write((w) => w.insertDispatch(dispatchRecord(child, results, { parentId: id, parentNode: 1, createdAt: 2 }), [], []));
      assert.deepEqual((await store.childDispatches(id)).map((c) => [c.id, c.parentNode]), [[child, 1]]);
      assert.deepEqual((await store.listDispatches(10)).map((x) => x.id), [id], "children are not listed at the top level");
      const again = newDispatchId();
      // Stored and restored in one write, as a redispatch does.
      await store.write((w) => {
        w.insertDispatch(dispatchRecord(again, results, { nodeCount: 1 }), [nodeRecord(0, { status: "COMPLETED", output: "7" })], []);
        w.restoreNodes(again, [nodeRecord(0, { status: "COMPLETED", output: "7", stdout: "kept", attempts: 2, startedAt: 3, endedAt: 4 })]);
      });
      const n = (await store.getNodes(again))[0] as NodeRecord;
      assert.deepEqual([n.status, n.output, n.stdout, n.attempts, n.startedAt, n.endedAt], ["COMPLETED", "7", "kept", 2, 3, 4]);
    });

    it("lists, counts and finds top-level dispatches for the dashboard: newest first, by status, by a literal substring, paged", async () => {
      const { store } = await fresh();
      const ids: DispatchId[] = [];
      const names = ["train_100%", "train_1000", "eval", "train-x", "train-1x"];
      await store.write((w) =>
        names.forEach((name, i) => {
          const id = newDispatchId();
          ids.push(id);
          w.insertDispatch(dispatchRecord(id, "/r", { name, createdAt: 10 + i, nodeCount: i }), [], []);
        }),
      );
      await store.write((w) => w.dispatchStatus(ids[2] as DispatchId, "COMPLETED", 20, { ended: true }));
      assert.deepEqual((await store.listDispatches(2)).map((d) => d.name), ["train-1x", "train-x"]);
      assert.equal(await store.newestDispatch(), ids[4]);
      assert.deepEqual(await store.countByStatus(), { NEW_OBJECT: 4, COMPLETED: 1 });
      const find = (q: Partial<DispatchQuery>) => store.findDispatches({ limit: 10, offset: 0, ...q });
      const all = await find({});
      assert.equal(all.total, 5);
      assert.deepEqual(all.rows.map((r) => r.name), ["train-1x", "train-x", "eval", "train_1000", "train_100%"]);
      assert.deepEqual(Object.keys(all.rows[0] ?? {}).sort(), ["createdAt", "endedAt", "id", "name", "nodeCount", "nodesDone", "startedAt", "status"]);
      // `_` and `%` are literal: as a wildcard "train_1" would also match "train-1x".
      assert.deepEqual((await find({ search: "train_1" })).rows.map((r) => r.name), ["train_1000", "train_100%"]);
      assert.deepEqual((await find({ search: "0%" })).rows.map((r) => r.name), ["train_100%"]);
      assert.deepEqual((await find({ search: ids[2] as string })).rows.map((r) => r.name), ["eval"], "by id");
      assert.deepEqual((await find({ statuses: ["COMPLETED"] })).rows.map((r) => r.name), ["eval"]);
      const page = await find({ limit: 2, offset: 2 });
      assert.deepEqual([page.total, page.rows.map((r) => r.name)], [5, ["eval", "train_1000"]]);
      assert.deepEqual(await find({ search: "nothing like it" }), { total: 0, rows: [] });
    });

    it("an empty store answers every read with nothing", async () => {
      const { store } = await fresh();
      assert.deepEqual(await store.listDispatches(), []);
      assert.deepEqual(await store.unfinishedDispatches(), []);
      assert.equal(await store.newestDispatch(), null);
      assert.deepEqual(await store.countByStatus(), {});
      assert.deepEqual(await store.findDispatches({ limit: 5, offset: 0 }), { total: 0, rows: [] });
    });
  });
}

/** Files under a results dir (none when it does not exist). */
function listResults(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}
