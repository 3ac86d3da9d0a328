// A store written by schema version 1 opens with this Valence: old results read back, new dispatches run.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { dispatchSync, getResult } from "../src/index.js";
import { encode } from "../src/codec/index.js";
import type { DispatchId } from "../src/ids.js";
import { migrate } from "../src/engine/store/migrations.js";
import * as wf from "./fixtures/workflows.js";

const old = "dsp_0mwv1old0000000" as DispatchId;

/** What version 1 stored for `arith(3, 4)` (add(3, 4) → 7, multiply(4, 7) → 28), written with version 1's tables. */
function writeV1Store(): void {
  const db = new Database(join(dataDir, "valence.db"));
  migrate(db, "v1", 1);
  db.prepare(
    `INSERT INTO dispatches (id, name, lattice_id, status, inputs, output, output_template, created_at, started_at, ended_at, results_dir,
       cwd, node_count, nodes_done)
     VALUES (?, 'arith', 'workflows.ts:1', 'COMPLETED', ?, ?, '{"value":null,"holes":[]}', 1000, 1001, 1002, ?, '/', 5, 5)`,
  ).run(old, encode([3, 4]), encode(28), join(dataDir, "results", old));
  const node = db.prepare(
    `INSERT INTO nodes (dispatch_id, node_id, kind, name, electron_id, status, executor, output, stdout, attempts, started_at, ended_at)
     VALUES (?, ?, ?, ?, ?, 'COMPLETED', ?, ?, ?, ?, ?, ?)`,
  );
  node.run(old, 0, "electron", "add", "workflows.ts:5", '"inline"', encode(7), "adding\n", 1, 1001, 1002);
  node.run(old, 1, "parameter", ":parameter:3", null, null, encode(3), null, 0, null, null);
  node.run(old, 2, "parameter", ":parameter:4", null, null, encode(4), null, 0, null, null);
  node.run(old, 3, "electron", "multiply", "workflows.ts:6", '"inline"', encode(28), null, 1, 1001, 1002);
  node.run(old, 4, "parameter", ":parameter:4", null, null, encode(4), null, 0, null, null);
  const edge = db.prepare(`INSERT INTO edges (dispatch_id, source, target, param) VALUES (?, ?, ?, ?)`);
  edge.run(old, 1, 0, '{"kind":"arg","index":0}');
  edge.run(old, 2, 0, '{"kind":"arg","index":1}');
  edge.run(old, 4, 3, '{"kind":"arg","index":0}');
  edge.run(old, 0, 3, '{"kind":"arg","index":1}');
  db.close();
}

describe("a version-1 store", () => {
  before(writeV1Store);

  it("reads a dispatch stored by version 1 with its result, nodes and outputs", async () => {
    const r = await getResult<number>(old);
    assert.equal(r.status, "COMPLETED");
    assert.equal(r.result, 28);
    assert.deepEqual(r.inputs.args, [3, 4]);
    const add = r.nodes[0];
    assert.deepEqual([add?.name, add?.output, add?.stdout, add?.attempts, add?.executor], ["add", 7, "adding\n", 1, "inline"]);
    assert.deepEqual(add?.startTime, new Date(1001));
    assert.ok(r.toString().endsWith("Node Outputs\n------------\nadd(0): 7\n:parameter:3(1): 3\n:parameter:4(2): 4\nmultiply(3): 28\n:parameter:4(4): 4\n"));
  });

  it("runs new dispatches in it", async () => {
    const r = await dispatchSync(wf.arith)(3, 4);
    assert.equal(r.status, "COMPLETED");
    assert.equal(r.result, 28);
    assert.deepEqual(r.nodes.map((n) => [n.name, n.status]), [
      ["add", "COMPLETED"], [":parameter:3", "COMPLETED"], [":parameter:4", "COMPLETED"], ["multiply", "COMPLETED"], [":parameter:4", "COMPLETED"],
    ]);
    // And the old one is still there beside it.
    assert.equal((await getResult<number>(old)).result, 28);
  });
});
