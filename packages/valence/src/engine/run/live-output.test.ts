import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { DispatchId } from "../../ids.js";
import { SqliteStore } from "../store/sqlite-store.js";
import { dispatchRecord, nodeRecord } from "../store/test-support/store-contract.js";
import { capOutput, cutMarker, LiveOutput } from "./live-output.js";

const id = "dsp_liveoutput001" as DispatchId;

async function storeWithDispatch(): Promise<SqliteStore> {
  const dir = mkdtempSync(join(tmpdir(), "valence-live-"));
  const store = new SqliteStore(dir);
  await store.write((w) => w.insertDispatch(dispatchRecord(id, join(dir, "r"), { nodeCount: 2 }), [nodeRecord(0), nodeRecord(1)], []));
  return store;
}

const texts = async (store: SqliteStore, node: number | null = null) =>
  (await store.getLiveOutput(id, node)).map((c) => `${c.node}:${c.stream}:${c.text}`);

describe("capOutput", () => {
  it("keeps output within the limit whole, and cuts longer output at the limit with a marker saying how much went", () => {
    assert.equal(capOutput("short\n", 1024), "short\n");
    const long = "y".repeat(3000);
    assert.equal(capOutput(long, 1024), "y".repeat(1024) + cutMarker(1024, 1976));
    assert.match(cutMarker(1024, 1976), /^\n\[valence: output cut at the limit of 1024 bytes \(output_limit\); 1976 more bytes not kept\]\n$/);
  });

  it("counts bytes, not characters: multi-byte text is cut at the byte limit", () => {
    const euros = "€".repeat(1000); // 3 bytes each
    const cut = capOutput(euros, 1024);
    const [kept] = cut.split("\n[valence:");
    assert.equal(kept, "€".repeat(341), "341 whole characters (1,023 bytes): the 342nd would cross the limit");
    assert.match(cut, /1976 more bytes not kept/);
  });
});

describe("LiveOutput", () => {
  it("writes every node's chunks in one write per flush, in order, and clears a node's chunks when it ends", async () => {
    const store = await storeWithDispatch();
    const live = new LiveOutput(id, store, 1024);
    live.append(0, "stdout", "a");
    live.append(1, "stderr", "b");
    live.append(0, "stdout", "c");
    live.flush();
    assert.deepEqual(await texts(store), ["0:stdout:a", "0:stdout:c", "1:stderr:b"]);
    await store.write((w) => live.ended(0, w));
    assert.deepEqual(await texts(store), ["1:stderr:b"]);
    live.close();
    live.append(1, "stdout", "after close");
    live.flush();
    assert.deepEqual(await texts(store), ["1:stderr:b"]);
    await store.close();
  });

  it("keeps at most the limit per node and stream, then one marker, and drops the rest", async () => {
    const store = await storeWithDispatch();
    const live = new LiveOutput(id, store, 1024);
    for (let i = 0; i < 30; i++) live.append(0, "stdout", "z".repeat(100));
    live.append(0, "stderr", "still kept");
    live.flush();
    const out = (await store.getLiveOutput(id, 0)).filter((c) => c.stream === "stdout").map((c) => c.text).join("");
    assert.equal(out, "z".repeat(1024) + cutMarker(1024, undefined));
    assert.deepEqual((await store.getLiveOutput(id, 0)).filter((c) => c.stream === "stderr").map((c) => c.text), ["still kept"]);
    await store.close();
  });

  it("liveOutputCleared with no node clears the whole dispatch's chunks (what a start or resume does)", async () => {
    const store = await storeWithDispatch();
    await store.write((w) => w.liveOutputAppended(id, [{ node: 0, stream: "stdout", text: "from the killed run" }, { node: 1, stream: "stdout", text: "other" }], 1));
    await store.write((w) => w.liveOutputCleared(id, null));
    assert.deepEqual(await texts(store), []);
    await store.close();
  });
});
