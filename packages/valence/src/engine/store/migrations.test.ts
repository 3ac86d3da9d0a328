import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import type { DispatchId } from "../../ids.js";
import { migrate, SCHEMA_VERSION } from "./migrations.js";
import type { NodeRecord } from "./records.js";
import { SqliteStore } from "./sqlite-store.js";

const id = "dsp_v1store0000001" as DispatchId;
const other = "dsp_v1store0000002" as DispatchId;

const base = {
  electronId: null, executor: null, retries: 0, retryPolicy: null, timeoutMs: null, key: null, holes: null, value: null, output: null, outputFile: null,
  stdout: null, stderr: null, error: null, attempts: 0, retryAt: null, startedAt: null, endedAt: null, lane: null, bundlePath: null, cachePolicy: null, cachedFrom: null,
} as const;
/** One of each state a version-1 row can be in, as version 1 wrote them. */
const v1Nodes: NodeRecord[] = [
  { ...base, nodeId: 0, kind: "electron", name: "add", electronId: "wf.ts:1", status: "COMPLETED", executor: '"inline"', output: "7",
    stdout: "hello\n", attempts: 1, startedAt: 10, endedAt: 11 },
  { ...base, nodeId: 1, kind: "parameter", name: ":parameter:3", status: "COMPLETED", output: "3" },
  { ...base, nodeId: 2, kind: "electron", name: "boom", electronId: "wf.ts:2", status: "FAILED", executor: '{"plugin":"inline","state":{}}',
    retries: 2, timeoutMs: 500, error: '{"$error":"x"}', stderr: "oops", attempts: 3, startedAt: 12, endedAt: 13 },
  { ...base, nodeId: 3, kind: "attribute", name: "add.x", status: "RUNNING", key: '"x"', attempts: 1, startedAt: 14 },
  { ...base, nodeId: 4, kind: "collection", name: ":collection:list", status: "NEW_OBJECT", holes: "[[0]]", value: "[null]" },
  { ...base, nodeId: 5, kind: "electron", name: "big", electronId: "wf.ts:3", status: "COMPLETED", executor: '"inline"',
    outputFile: "/r/node-5.out", attempts: 1, startedAt: 15, endedAt: 16 },
];
const v1Edges = [
  { source: 1, target: 0, param: '{"kind":"arg","index":1}' },
  { source: 0, target: 3, param: '{"kind":"source"}' },
  { source: 3, target: 4, param: '{"kind":"item","slot":0}' },
];

/** A store file as version 1 of the schema left it: the old tables, with old rows. */
function v1Store(): string {
  const dir = mkdtempSync(join(tmpdir(), "valence-v1-"));
  const db = new Database(join(dir, "valence.db"));
  migrate(db, "v1", 1);
  const dispatch = db.prepare(
    `INSERT INTO dispatches (id, name, status, inputs, output_template, created_at, results_dir, cwd, node_count)
     VALUES (?, 'wf', ?, '[]', '[]', ?, '/r', '/', ?)`,
  );
  dispatch.run(id, "RUNNING", 1, v1Nodes.length);
  dispatch.run(other, "COMPLETED", 2, 0);
  const node = db.prepare(
    `INSERT INTO nodes (dispatch_id, node_id, kind, name, electron_id, status, executor, retries, timeout_ms, key, holes, value, output,
       output_file, stdout, stderr, error, attempts, started_at, ended_at)
     VALUES (@id, @nodeId, @kind, @name, @electronId, @status, @executor, @retries, @timeoutMs, @key, @holes, @value, @output,
       @outputFile, @stdout, @stderr, @error, @attempts, @startedAt, @endedAt)`,
  );
  for (const n of v1Nodes) node.run({ id, ...n });
  const edge = db.prepare(`INSERT INTO edges (dispatch_id, source, target, param) VALUES (?, ?, ?, ?)`);
  for (const e of v1Edges) edge.run(id, e.source, e.target, e.param);
  assert.equal(db.pragma("user_version", { simple: true }), 1);
  db.close();
  return dir;
}

describe("store migrations", () => {
  it("converts a version-1 store: every node, edge and dispatch reads back as it was written", async () => {
    const store = new SqliteStore(v1Store());
    assert.equal(store.db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
    assert.deepEqual((await store.getNodes(id)), v1Nodes);
    assert.deepEqual((await store.getEdges(id)), v1Edges);
    assert.deepEqual((await store.getNodes(other)), []);
    assert.deepEqual((await store.getEdges(other)), []);
    assert.deepEqual((await store.listDispatches()).map((d) => d.id), [other, id]);
    assert.deepEqual((await store.unfinishedDispatches()).map((d) => d.id), [id]);
    const tables = store.db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).pluck().all();
    // sqlite_sequence is SQLite's own, for live_output's AUTOINCREMENT ids.
    assert.deepEqual(tables, ["dispatches", "events", "graphs", "live_output", "node_states", "result_cache", "sources", "sqlite_sequence", "trigger_fires", "triggers"]);
    await store.write((w) => w.insertSources(id, { "wf.ts:3": "(x) => x + 1" }));
    assert.deepEqual((await store.getSources(id)), { "wf.ts:3": "(x) => x + 1" });
    await store.close();
  });

  it("converts a version-2 store, keeping a replaced electron's own bundle", async () => {
    const dir = v1Store();
    const db = new Database(join(dir, "valence.db"));
    migrate(db, "v2", 2);
    db.prepare(`UPDATE nodes SET bundle_path = '/b/new.mjs' WHERE node_id = 0`).run();
    await db.close();
    const store = new SqliteStore(dir);
    assert.deepEqual((await store.getNodes(id)), [{ ...v1Nodes[0], bundlePath: "/b/new.mjs" }, ...v1Nodes.slice(1)]);
    await store.close();
  });

  it("keeps writing a converted dispatch: its unfinished nodes run, complete and fail as in a new one", async () => {
    const dir = v1Store();
    const store = new SqliteStore(dir);
    await store.write((w) => w.nodesCompleted(id, join(dir, "r"), [{ node: 3, encoded: "9", stdout: "", stderr: "", at: 20, startedAt: 14, attempt: null }]));
    await store.write((w) => w.nodeRunning(id, 4, 1, 21));
    await store.write((w) => w.nodeEnded(id, 4, "CANCELLED", '{"$error":"c"}', undefined, 22));
    const [n3, n4] = (await store.getNodes(id)).slice(3);
    assert.deepEqual([n3?.status, n3?.output, n3?.attempts, n3?.startedAt, n3?.endedAt], ["COMPLETED", "9", 1, 14, 20]);
    assert.deepEqual([n4?.status, n4?.error, n4?.attempts, n4?.startedAt, n4?.endedAt, n4?.value], ["CANCELLED", '{"$error":"c"}', 1, 21, 22, "[null]"]);
    await store.close();
    // Opening it again finds nothing left to migrate.
    const again = new SqliteStore(dir);
    assert.equal((await again.getNodes(id))[3]?.output, "9");
    await again.close();
  });
});
