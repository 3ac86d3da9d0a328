// The store contract on a SQLite store wrapped by observeWrites: timing its writes changes nothing a caller sees.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Observation } from "../observe/observation.js";
import { observeWrites } from "./observed-store.js";
import { SqliteStore } from "./sqlite-store.js";
import { dispatchRecord, storeContract } from "./test-support/store-contract.js";
import { newDispatchId } from "../../ids.js";

const heard: Observation[] = [];
storeContract("sqlite, writes observed", (dataDir) => observeWrites(new SqliteStore(dataDir), { observe: (o) => heard.push(o) }));

describe("observeWrites", () => {
  const dir = mkdtempSync(join(tmpdir(), "valence-observed-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("tells each write and transaction once it settles, failed ones as not ok, and passes reads through", async () => {
    const seen: Observation[] = [];
    const store = observeWrites(new SqliteStore(dir), { observe: (o) => seen.push(o) });
    try {
      const id = newDispatchId();
      await store.write((w) => w.insertDispatch(dispatchRecord(id, join(dir, "r")), [], []));
      await store.transaction(async (tx) => tx.countDone(id, 0));
      // SQLite throws at once for a `fill` that throws; the wrapper keeps that, and still tells it.
      await assert.rejects(async () => store.write(() => { throw new Error("refused"); }));
      assert.equal((await store.getDispatch(id))?.id, id);
      assert.equal(store.dataDir, dir);
      assert.deepEqual(seen.map((o) => (o.kind === "store-write" ? [o.op, o.ok, o.seconds >= 0] : o.kind)), [
        ["write", true, true],
        ["transaction", true, true],
        ["write", false, true],
      ]);
    } finally {
      await store.close();
    }
  });
});
