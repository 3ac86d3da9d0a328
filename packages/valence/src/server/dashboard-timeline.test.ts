// The task-stream timeline route over a real store: columns in start order, lanes and electrons as indexes.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encode } from "../codec/index.js";
import type { DispatchId } from "../ids.js";
import { SqliteStore } from "../engine/store/sqlite-store.js";
import { dispatchRecord, nodeRecord } from "../engine/store/test-support/store-contract.js";
import { createDashboardApi } from "./dashboard-api.js";

let dir: string;
let store: SqliteStore;
let api: ReturnType<typeof createDashboardApi>;
const id = "dsp_timeline0001" as DispatchId;

const get = async (path: string) => {
  const res = await api.request(path);
  return { status: res.status, body: (await res.json()) as any };
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "valence-timeline-"));
  store = new SqliteStore(dir);
  const results = join(dir, "results", id);
  const nodes = [
    nodeRecord(0, { kind: "parameter", name: ":parameter:1", status: "COMPLETED", electronId: null, output: encode(1) }),
    nodeRecord(1, { name: "add" }),
    nodeRecord(2, { name: "mul" }),
    nodeRecord(3, { name: "add" }),
    nodeRecord(4, { name: "boom" }),
    nodeRecord(5, { name: "old" }),
    nodeRecord(6, { name: "never" }),
  ];
  await store.write((w) => w.insertDispatch(dispatchRecord(id, results, { nodeCount: nodes.length, status: "RUNNING" }), nodes, []));
  await store.write((w) => {
    w.nodesCompleted(id, results, [
      { node: 2, encoded: "2", stdout: "", stderr: "", at: 30, startedAt: 10, attempt: 1, lane: "local worker 0" },
      { node: 1, encoded: "1", stdout: "", stderr: "", at: 25, startedAt: 20, attempt: 1, lane: "local worker 1" },
      { node: 5, encoded: "5", stdout: "", stderr: "", at: 8, startedAt: 5, attempt: 1 },
    ]);
    w.nodeRunning(id, 3, 1, 26);
    w.nodeRunning(id, 4, 1, 12);
    w.nodeEnded(id, 4, "FAILED", '"boom"', undefined, 15, "local worker 1");
  });
  api = createDashboardApi({ store, env: { VALENCE_CONFIG: join(dir, "valence.toml"), VALENCE_DATA_DIR: dir } });
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("dashboard timeline", () => {
  it("lists every node that started, in start order, as columns: start, end (null while running), lane, electron and status indexes", async () => {
    const { status, body } = await get(`/dispatches/${id}/timeline`);
    assert.equal(status, 200);
    assert.equal(body.dispatch.id, id);
    assert.equal(typeof body.now, "number");
    assert.deepEqual(body.nodeId, [5, 2, 4, 1, 3]);
    assert.deepEqual(body.start, [5, 10, 12, 20, 26]);
    assert.deepEqual(body.end, [8, 30, 15, 25, null]);
    assert.deepEqual(body.lanes, ["local worker 0", "local worker 1"]);
    assert.deepEqual(body.lane, [-1, 0, 1, 1, -1], "unknown lanes are -1");
    assert.deepEqual(body.electrons, ["old", "mul", "boom", "add"]);
    assert.deepEqual(body.electron, [0, 1, 2, 3, 3]);
    assert.deepEqual(
      body.status.map((s: number) => body.statuses[s]),
      ["COMPLETED", "COMPLETED", "FAILED", "COMPLETED", "RUNNING"],
    );
  });

  it("answers an unknown dispatch with 404", async () => {
    const r = await get("/dispatches/dsp_nosuchdispatch/timeline");
    assert.equal(r.status, 404);
  });
});
