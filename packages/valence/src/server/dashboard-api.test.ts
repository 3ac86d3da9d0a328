// The dashboard's read routes over a real store (no runners): counts, search and pagination,
// a graph without outputs, a node's details with secrets masked, downloads, the log's tail.
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encode } from "../codec/index.js";
import type { DispatchId } from "../ids.js";
import { SqliteStore } from "../engine/store/sqlite-store.js";
import type { DispatchRecord, NodeRecord } from "../engine/store/records.js";
import { createDashboardApi } from "./dashboard-api.js";
import { maskSecrets, VALUE_PREVIEW_CHARS } from "./dashboard-views.js";

let dir: string;
let store: SqliteStore;
let api: ReturnType<typeof createDashboardApi>;

const get = async (path: string) => {
  const res = await api.request(path);
  return { status: res.status, body: (await res.json()) as any };
};

function dispatchRecord(i: number, status: string, name: string): DispatchRecord {
  const id = `dsp_test${String(i).padStart(4, "0")}` as DispatchId;
  return {
    id, parentId: null, parentNode: null, name, latticeId: null, status: status as DispatchRecord["status"], inputs: encode([3, 4]),
    output: null, outputTemplate: encode({ value: null, holes: [] }), error: null, createdAt: 1_000_000 + i, startedAt: null, endedAt: null,
    resultsDir: join(dir, "results", id), bundlePath: null, entryFile: null, cwd: dir, ownerPid: null, ownerHost: null, ownerLock: null, nodeCount: 3, nodesDone: 0,
  };
}

function nodeRecord(nodeId: number, fields: Partial<NodeRecord>): NodeRecord {
  return {
    nodeId, kind: "electron", name: `n${nodeId}`, electronId: null, status: "NEW_OBJECT", executor: null, retries: 0, retryPolicy: null, timeoutMs: null, key: null,
    holes: null, value: null, output: null, outputFile: null, stdout: null, stderr: null, error: null, attempts: 0, retryAt: null, startedAt: null, endedAt: null,
    lane: null, bundlePath: null, cachePolicy: null, cachedFrom: null, ...fields,
  };
}

const SSH = JSON.stringify({ plugin: "ssh", state: { hostname: "gpu1", password: "hunter2", sshKey: "PRIVATE", keyFile: "/k", nested: { apiToken: "t0k", ok: 1 }, passphrase: "pp" } });
const big = "x".repeat(VALUE_PREVIEW_CHARS + 10);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "valence-dash-"));
  store = new SqliteStore(dir);
  const statuses = ["COMPLETED", "FAILED", "RUNNING", "CANCELLED"];
  for (let i = 0; i < 120; i++) {
    await store.write((w) => w.insertDispatch(dispatchRecord(i, statuses[i % 4] as string, i % 10 === 0 ? "special_flow" : "workflow"), [nodeRecord(0, {})], []));
  }
  const error = new TypeError("bad x");
  const d = dispatchRecord(500, "FAILED", "graphy");
  await store.write((w) => w.insertDispatch(
    d,
    [
      nodeRecord(0, { kind: "parameter", name: ":parameter:3", status: "COMPLETED", output: encode(3) }),
      nodeRecord(1, { name: "add", status: "COMPLETED", electronId: "e1", executor: SSH, output: encode({ big }) }),
      nodeRecord(2, { name: "boom", status: "RUNNING", electronId: "e2", executor: JSON.stringify("local") }),
    ],
    [
      { source: 0, target: 1, param: JSON.stringify({ kind: "arg", index: 0 }) },
      { source: 1, target: 2, param: JSON.stringify({ kind: "arg", index: 1 }) },
    ],
  ));
  await store.write((w) => w.nodeEnded(d.id, 2, "FAILED", encode(error), { stdout: "out", stderr: "err" }, 1_000_600));
  await store.write((w) => w.insertSources(d.id, { e1: "export const add = electron((x) => x + 1);" }));
  api = createDashboardApi({ store, env: { VALENCE_CONFIG: join(dir, "valence.toml"), VALENCE_DATA_DIR: dir } });
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("dashboard API", () => {
  it("counts top-level dispatches by status", async () => {
    const { body } = await get("/summary");
    assert.equal(body.total, 121);
    assert.deepEqual(body.counts, { COMPLETED: 30, FAILED: 31, RUNNING: 30, CANCELLED: 30 });
  });

  it("lists newest first, with a total, offset/limit pages, a status filter and search by name or id", async () => {
    const page1 = (await get("/dispatches?limit=10")).body;
    assert.equal(page1.total, 121);
    assert.equal(page1.dispatches.length, 10);
    assert.equal(page1.dispatches[0].id, "dsp_test0500");
    assert.equal(page1.dispatches[1].id, "dsp_test0119");
    const page2 = (await get("/dispatches?limit=10&offset=10")).body;
    assert.equal(page2.dispatches[0].id, "dsp_test0110");
    const failed = (await get("/dispatches?status=FAILED&limit=500")).body;
    assert.equal(failed.total, 31);
    assert.ok(failed.dispatches.every((d: { status: string }) => d.status === "FAILED"));
    assert.equal((await get("/dispatches?status=FAILED,RUNNING")).body.total, 61);
    assert.equal((await get("/dispatches?q=special")).body.total, 12);
    assert.equal((await get("/dispatches?q=test0042")).body.dispatches[0].id, "dsp_test0042");
    // Wildcards are literal.
    assert.equal((await get("/dispatches?q=%25")).body.total, 0);
    assert.equal((await get("/dispatches?q=l_f")).body.total, 12);
  });

  it("names the newest dispatch, cheaply, for the list to poll", async () => {
    assert.deepEqual((await get("/head")).body, { newest: "dsp_test0500" });
  });

  it("refuses a bad status, limit or offset with a message naming it", async () => {
    const r = await get("/dispatches?status=DONE");
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /status: "DONE"/);
    assert.match((await get("/dispatches?limit=0")).body.error.message, /^limit/);
    assert.match((await get("/dispatches?offset=-1")).body.error.message, /^offset/);
  });

  it("gives a graph with kinds, statuses, executor names and labelled edges, no outputs", async () => {
    const { body } = await get("/dispatches/dsp_test0500/graph");
    assert.equal(body.dispatch.name, "graphy");
    assert.equal(body.dispatch.inputs, "[3, 4]");
    assert.deepEqual(
      body.nodes.map((n: any) => [n.nodeId, n.name, n.kind, n.status, n.executor]),
      [[0, ":parameter:3", "parameter", "COMPLETED", ""], [1, "add", "electron", "COMPLETED", "ssh"], [2, "boom", "electron", "FAILED", "local"]],
    );
    assert.ok(!("output" in body.nodes[1]));
    assert.deepEqual(body.edges, [{ source: 0, target: 1, label: "arg 0" }, { source: 1, target: 2, label: "arg 1" }]);
  });

  it("gives a node's details: executor options with secrets masked, inputs, a truncated output, source", async () => {
    const res = await api.request("/dispatches/dsp_test0500/nodes/1");
    const raw = await res.text();
    for (const secret of ["hunter2", "PRIVATE", "t0k", '"pp"']) assert.ok(!raw.includes(secret), `${secret} must not reach the browser`);
    const body = JSON.parse(raw);
    assert.equal(body.executor.name, "ssh");
    assert.deepEqual(body.executor.options, {
      hostname: "gpu1", password: "********", sshKey: "********", keyFile: "/k", nested: { apiToken: "********", ok: 1 }, passphrase: "********",
    });
    assert.deepEqual(body.inputs, [{ param: "arg 0", node: 0, name: ":parameter:3", value: "3" }]);
    assert.equal(body.output.truncated, true);
    assert.equal(body.output.text.length, VALUE_PREVIEW_CHARS);
    assert.ok(body.output.size > VALUE_PREVIEW_CHARS);
    assert.equal(body.source, "export const add = electron((x) => x + 1);");
    const download = await api.request("/dispatches/dsp_test0500/nodes/1/output");
    assert.match(download.headers.get("content-disposition") ?? "", /attachment/);
    assert.ok((await download.text()).includes(big), "the download is whole");
  });

  it("gives a failed node's error with its stack", async () => {
    const { body } = await get("/dispatches/dsp_test0500/nodes/2");
    assert.equal(body.error.name, "TypeError");
    assert.equal(body.error.message, "bad x");
    assert.match(body.error.stack, /TypeError: bad x\n\s+at /);
    assert.equal(body.output, null);
    assert.equal(body.stdout, "out");
    assert.equal(body.stderr, "err");
  });

  it("answers 404 for unknown dispatches and nodes", async () => {
    assert.equal((await get("/dispatches/dsp_nothere/graph")).body.error.code, "DISPATCH_NOT_FOUND");
    assert.equal((await get("/dispatches/nope/graph")).status, 404);
    assert.equal((await get("/dispatches/dsp_test0500/nodes/3")).status, 404);
    assert.equal((await get("/dispatches/dsp_test0500/nodes/x1")).status, 404);
    assert.equal((await get("/dispatches/dsp_test0500/nodes/0/output")).status, 200);
    assert.equal((await get("/dispatches/dsp_test0500/nodes/2/output")).status, 404);
  });

  it("tails the server log, then sends only what was appended, whole lines", async () => {
    assert.deepEqual((await get("/log")).body, { exists: false, text: "", offset: 0, size: 0 });
    const log = join(dir, "server.log");
    writeFileSync(log, `${"old line\n".repeat(20_000)}last line\npart`);
    const first = (await get("/log")).body;
    assert.ok(first.text.length <= 64 * 1024 && first.text.endsWith("last line\n") && first.text.startsWith("old line\n"));
    appendFileSync(log, "ial\nnext\n");
    const second = (await get(`/log?after=${first.offset}`)).body;
    assert.equal(second.text, "partial\nnext\n");
    assert.equal((await get(`/log?after=${second.offset}`)).body.text, "");
  });

  it("shows the effective config, secrets masked, and the Result text", async () => {
    writeFileSync(join(dir, "valence.toml"), '[executors.ssh]\nhostname = "gpu1"\npassword = "hunter2"\n');
    const { body } = await get("/config");
    assert.match(body.text, /executors\.ssh\.hostname\s+"gpu1"/);
    assert.ok(!body.text.includes("hunter2"));
    const result = (await get("/dispatches/dsp_test0500/result-text")).body.text;
    assert.match(result, /Lattice Result/);
    assert.match(result, /boom\(2\)/);
  });

  it("masks at any depth and leaves other values alone", async () => {
    assert.deepEqual(maskSecrets([{ token: "a", list: [{ secret: 1 }] }, 2]), [{ token: "********", list: [{ secret: "********" }] }, 2]);
  });
});
