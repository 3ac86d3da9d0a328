import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import type { DispatchId } from "../../ids.js";
import { SCHEMA_VERSION } from "./migrations.js";
import { SqliteStore } from "./sqlite-store.js";
import { dispatchRecord, nodeRecord } from "./test-support/store-contract.js";

const dir = () => mkdtempSync(join(tmpdir(), "valence-store-"));
const id = "dsp_test0000001" as DispatchId;

describe("SqliteStore", () => {
  // What every driver does is the store contract (sqlite-store.contract.test.ts); here, what is SQLite's own.
  // Migrations from older schema versions: migrations.test.ts and tests/store-migration.test.ts.

  it("stores a dispatch with its nodes and edges (more than one insert chunk) and reads them back", async () => {
    const d = dir();
    const store = new SqliteStore(d);
    const nodes = Array.from({ length: 250 }, (_, i) => nodeRecord(i));
    const edges = Array.from({ length: 249 }, (_, i) => ({ source: i, target: i + 1, param: '{"kind":"arg","index":0}' }));
    await store.write((w) => w.insertDispatch(dispatchRecord(id, join(d, "r"), { nodeCount: 250 }), nodes, edges));
    assert.equal((await store.getNodes(id)).length, 250);
    // Completing more than one UPDATE chunk, with a RUNNING mark written for one of them.
    await store.write((w) => w.nodeRunning(id, 7, 2, 5));
    await store.write((w) => w.nodesCompleted(id, join(d, "r"), nodes.map((n) => ({ node: n.nodeId, encoded: `${n.nodeId}`, stdout: "o", stderr: "", at: 9, startedAt: 6, attempt: n.nodeId === 7 ? null : 1 }))));
    const done = await store.getNodes(id);
    assert.ok(done.every((n) => n.status === "COMPLETED" && n.output === `${n.nodeId}` && n.stdout === "o" && n.stderr === null));
    assert.deepEqual([done[7]?.attempts, done[7]?.startedAt, done[8]?.attempts, done[8]?.startedAt], [2, 6, 1, 6]); // the completing attempt's start replaces the RUNNING mark's
    assert.equal((await store.getNodes(id))[249]?.name, "n249");
    assert.equal((await store.getEdges(id)).length, 249);
    assert.equal((await store.getDispatch(id))?.nodeCount, 250);
    assert.equal(store.db.pragma("journal_mode", { simple: true }), "wal");
    assert.deepEqual((await store.unfinishedDispatches()).map((x) => x.id), [id]);
    await store.write((w) => w.event(id, 3, "retry", "boom", 3, 7));
    await store.write((w) => w.event(id, null, "finished", "COMPLETED", null, 8));
    const events = await store.getEvents(id);
    assert.deepEqual(events.map((e) => [e.nodeId, e.kind, e.detail, e.cause, e.at]), [[3, "retry", "boom", 3, 7], [null, "finished", "COMPLETED", null, 8]]);
    assert.deepEqual((await store.getEvents(id, events[0]?.id)).map((e) => e.kind), ["finished"]);
    await store.write((w) => w.dispatchStatus(id, "COMPLETED", 9, { ended: true, output: "1" }));
    assert.deepEqual((await store.unfinishedDispatches()), []);
    await store.close();
  });

  it("refuses a file that is not a SQLite database, saying what to do", async () => {
    const d = dir();
    writeFileSync(join(d, "valence.db"), "this is not a database, it is a shopping list\n".repeat(100));
    assert.throws(() => new SqliteStore(d), {
      name: "StoreError",
      message: /cannot open the store .*valence\.db: file is not a database\. If the file is damaged, move it aside/,
    });
  });

  it("refuses a store written by a newer Valence", async () => {
    const d = dir();
    const db = new Database(join(d, "valence.db"));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    await db.close();
    assert.throws(() => new SqliteStore(d), {
      name: "StoreVersionError",
      message: new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer than this Valence understands \\(${SCHEMA_VERSION}\\)`),
    });
  });

  it("migrates a new file to the current schema version", async () => {
    const store = new SqliteStore(dir());
    assert.equal(store.db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
    await store.close();
  });
});
