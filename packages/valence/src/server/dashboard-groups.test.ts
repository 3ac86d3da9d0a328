// The dashboard's grouped view: the grouping rule over graphs traced from real lattices (wide
// fan-out, map-reduce, layered chains, nested repetition), small graphs passed through node by
// node, parameters hidden and shown, counts and the spread of durations, and a group's table
// (paging, sorting, filtering) over a real store; bad query values get 400s that name them.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encode } from "../codec/index.js";
import type { DispatchId } from "../ids.js";
import { electron, lattice } from "../index.js";
import type { TransportGraph } from "../sdk/graph.js";
import { SqliteStore } from "../engine/store/sqlite-store.js";
import type { SubmittedNode } from "../engine/store/graph-codec.js";
import type { DispatchRecord, EdgeRecord } from "../engine/store/records.js";
import { createDashboardApi } from "./dashboard-api.js";
import { computeShape, type GroupShape } from "./dashboard-groups.js";
import { GroupCache } from "./dashboard-group-cache.js";
import { computeStats } from "./dashboard-group-stats.js";

const inc = electron((i: number) => i + 1, { executor: "inline" });
const sum = electron((xs: number[]) => xs.reduce((a, b) => a + b, 0), { executor: "inline" });
const mix = electron((a: number, b: number) => (a + b) % 1000, { executor: "local" });
const pair = electron((i: number) => ({ a: i, b: [i] }), { executor: "inline" });
const scale = electron((a: number, j: number) => a * j, { executor: "inline" });

const wide = lattice((n: number) => Array.from({ length: n }, (_, i) => inc(i)));
const mapReduce = lattice((n: number) => sum(Array.from({ length: n }, (_, i) => inc(inc(i)))));
/** `width` incs, then `depth` layers each mixing two neighbours of the layer above. */
const layered = lattice((width: number, depth: number) => {
  let row = Array.from({ length: width }, (_, i) => inc(i));
  for (let d = 0; d < depth; d++) {
    const above = row;
    row = above.map((x, i) => mix(x, above[(i + 1) % width] as typeof x));
  }
  return row[0];
});
/** For each of `outer`: a pair, `inner` scalings of its `a`, and their sum. */
const nested = lattice((outer: number, inner: number) =>
  Array.from({ length: outer }, (_, i) => {
    const p = pair(i);
    return sum(Array.from({ length: inner }, (_, j) => scale(p.a, j)));
  }),
);
const chain = lattice((n: number) => {
  let x = inc(0);
  for (let i = 1; i < n; i++) x = inc(x);
  return x;
});
const few = lattice((x: number, y: number) => sum([inc(x), inc(y)]));

function records(g: TransportGraph): { nodes: SubmittedNode[]; edges: EdgeRecord[] } {
  return {
    nodes: g.nodes.map((n) => ({
      nodeId: n.id, kind: n.kind, name: n.name, electronId: n.electronId ?? null, status: n.kind === "parameter" ? "COMPLETED" : "NEW_OBJECT",
      executor: n.executor === undefined ? null : JSON.stringify(n.executor), retries: 0, retryPolicy: null, timeoutMs: null, key: null, holes: null, value: null,
      output: n.kind === "parameter" ? encode(n.value) : null, bundlePath: null, cachePolicy: null,
    })),
    edges: g.edges.map((e) => ({ source: e.source, target: e.target, param: JSON.stringify(e.param) })),
  };
}

const shapeOf = (g: TransportGraph): GroupShape => {
  const { nodes, edges } = records(g);
  return computeShape(nodes, edges);
};
/** Groups as `name × size` (parameters named by what they feed), in group order. */
const summary = (s: GroupShape) => s.groups.map((g) => `${g.name} × ${g.size}`);
const edgesOf = (s: GroupShape) => s.edges.map((e) => `${s.groups[e.source]?.name}#${e.source} -> ${s.groups[e.target]?.name}#${e.target} (${e.count})`);

describe("grouping rule", () => {
  it("merges a wide fan-out into one group, its parameters into another", () => {
    const g = (wide as unknown as { build: (n: number) => TransportGraph }).build(5000);
    // The tracer numbers an electron before the parameters of its arguments: id order is not parents first.
    assert.equal(g.nodes[0]?.kind, "electron");
    assert.equal(g.nodes[1]?.kind, "parameter");
    const s = shapeOf(g);
    assert.deepEqual(summary(s), ["inc × 5000", "parameters × 5000"]);
    assert.deepEqual(edgesOf(s), ["parameters#1 -> inc#0 (5000)"]);
    assert.equal(s.groups[0]?.firstNode, 0);
    assert.equal(s.groups[1]?.parameter, true);
    assert.deepEqual(s.groups[0]?.executors, ["inline"]);
    assert.equal(s.repeating, true);
    // Every node is in exactly one group, members in id order.
    assert.equal(s.members.length, 10_000);
    const inc0 = [...s.members.subarray(s.memberStart[0], s.memberStart[1])];
    assert.deepEqual(inc0.slice(0, 3), [0, 2, 4]);
  });

  it("keeps each stage of a map-reduce apart: inner inc, outer inc, the collection, the sum", () => {
    const s = shapeOf((mapReduce as unknown as { build: (n: number) => TransportGraph }).build(100));
    assert.deepEqual(summary(s), ["inc × 100", "parameters × 100", "inc × 100", "sum × 1", ":collection:list × 1"]);
    assert.deepEqual(edgesOf(s), [
      "parameters#1 -> inc#0 (100)",
      "inc#0 -> inc#2 (100)",
      "inc#2 -> :collection:list#4 (100)",
      ":collection:list#4 -> sum#3 (1)",
    ]);
  });

  it("gives each layer of a layered chain its own group (the same electron, a different place), with its executor", () => {
    const s = shapeOf((layered as unknown as { build: (w: number, d: number) => TransportGraph }).build(50, 20));
    assert.equal(s.groups.length, 1 + 1 + 20);
    assert.deepEqual(summary(s).slice(0, 4), ["inc × 50", "parameters × 50", "mix × 50", "mix × 50"]);
    assert.ok(s.groups.every((g) => g.size === 50));
    assert.deepEqual(s.groups[2]?.executors, ["local"]);
    // Each layer feeds the next: 100 node edges (two parents per mix) between consecutive layers.
    assert.ok(edgesOf(s).includes("mix#2 -> mix#3 (100)"));
  });

  it("groups nested repetition at every level, and parameters by the group they feed", () => {
    const s = shapeOf((nested as unknown as { build: (o: number, i: number) => TransportGraph }).build(30, 40));
    const byName = new Map(s.groups.map((g) => [`${g.name}/${g.kind}`, g.size]));
    assert.equal(byName.get("pair/electron"), 30);
    assert.equal(byName.get("pair.a/attribute"), 30);
    assert.equal(byName.get("scale/electron"), 30 * 40);
    assert.equal(byName.get(":collection:list/collection"), 30);
    assert.equal(byName.get("sum/electron"), 30);
    // Two parameter groups: the 30 that feed pair, the 1,200 that feed scale.
    const params = s.groups.filter((g) => g.parameter).map((g) => g.size).sort((a, b) => a - b);
    assert.deepEqual(params, [30, 1200]);
    assert.equal(s.groups.length, 7);
  });

  it("finds nothing to merge in a chain: every electron is a group of one", () => {
    const s = shapeOf((chain as unknown as { build: (n: number) => TransportGraph }).build(200));
    assert.equal(s.repeating, false);
    assert.equal(s.groups.filter((g) => !g.parameter).length, 200);
  });

  it("groups 100,000 nodes in one pass (shape cached, statuses summed per group)", () => {
    const g = (wide as unknown as { build: (n: number) => TransportGraph }).build(50_000);
    const { nodes, edges } = records(g);
    const t0 = performance.now();
    const s = computeShape(nodes, edges);
    const t1 = performance.now();
    // Object literals, as the store makes them (spread copies are slow dictionary objects in V8).
    const done = nodes.map((n, i) => ({ nodeId: n.nodeId, status: i % 3 ? ("COMPLETED" as const) : ("RUNNING" as const), startedAt: 1000, endedAt: i % 3 ? 1000 + (i % 100) : null, attempts: 1 }));
    const t2 = performance.now();
    const st = computeStats(s, done);
    const t3 = performance.now();
    assert.deepEqual(summary(s), ["inc × 50000", "parameters × 50000"]);
    const c = st.counts;
    assert.equal(c[0]! + c[1]! + c[5]! + c[6]!, 100_000);
    console.log(`# 100,000 nodes: shape ${(t1 - t0).toFixed(0)} ms, statuses ${(t3 - t2).toFixed(0)} ms`);
  });
});

// Over a real store, through the routes.
let dir: string;
let store: SqliteStore;
let api: ReturnType<typeof createDashboardApi>;
const get = async (path: string) => {
  const res = await api.request(path);
  return { status: res.status, body: (await res.json()) as any };
};

function dispatchRecord(id: string, nodeCount: number, name: string): DispatchRecord {
  return {
    id: id as DispatchId, parentId: null, parentNode: null, name, latticeId: null, status: "RUNNING", inputs: encode([]), output: null,
    outputTemplate: encode({ value: null, holes: [] }), error: null, createdAt: 1_000_000, startedAt: 1_000_000, endedAt: null,
    resultsDir: join(dir, "results", id), bundlePath: null, entryFile: null, cwd: dir, ownerPid: null, ownerHost: null, ownerLock: null, nodeCount, nodesDone: 0,
  };
}

async function insert(id: string, g: TransportGraph): Promise<void> {
  const { nodes, edges } = records(g);
  await store.write((w) => w.insertDispatch(dispatchRecord(id, nodes.length, g.latticeName), nodes, edges));
}

const WIDE = "dsp_groupswide";
const T0 = 2_000_000;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "valence-groups-"));
  store = new SqliteStore(dir);
  api = createDashboardApi({ store, env: { VALENCE_CONFIG: join(dir, "valence.toml"), VALENCE_DATA_DIR: dir } });
  // wide(100): inc nodes have even ids 0..198. inc node 2k: k < 60 completed in 10 + k ms (attempt 1, or
  // 2 when k % 10 == 0), 60-69 failed in 5 ms, 70-79 running, the rest pending.
  await insert(WIDE, (wide as unknown as { build: (n: number) => TransportGraph }).build(100));
  await store.write((w) => {
    for (let k = 0; k < 80; k++) w.nodeRunning(WIDE as DispatchId, 2 * k, k % 10 === 0 && k < 60 ? 2 : 1, T0);
  });
  await store.write((w) => {
    w.nodesCompleted(WIDE as DispatchId, join(dir, "results", WIDE), Array.from({ length: 60 }, (_, k) => ({
      node: 2 * k, encoded: encode(k + 1), stdout: "", stderr: "", at: T0 + 10 + k, startedAt: T0, attempt: null,
    })));
    for (let k = 60; k < 70; k++) w.nodeEnded(WIDE as DispatchId, 2 * k, "FAILED", encode(new Error("no")), undefined, T0 + 5);
  });
  await insert("dsp_groupsfew", (few as unknown as { build: (x: number, y: number) => TransportGraph }).build(1, 2));
  await insert("dsp_groupschain", (chain as unknown as { build: (n: number) => TransportGraph }).build(120));
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("groups API", () => {
  it("passes a small graph through node by node, as /graph gives it", async () => {
    const { body } = await get("/dispatches/dsp_groupsfew/groups");
    assert.equal(body.grouped, false);
    const graph = (await get("/dispatches/dsp_groupsfew/graph")).body;
    assert.deepEqual({ ...body, grouped: undefined }, { ...graph, grouped: undefined });
    assert.equal(body.nodes.length, 6);
  });

  it("passes a large graph with nothing repeated through node by node", async () => {
    const { body } = await get("/dispatches/dsp_groupschain/groups");
    assert.equal(body.grouped, false);
    assert.equal(body.nodes.length, 121);
    assert.equal(body.edges.length, 120);
  });

  it("gives a large dispatch as groups with counts by status, the spread of durations, executors; parameters hidden", async () => {
    const { status, body } = await get(`/dispatches/${WIDE}/groups`);
    assert.equal(status, 200);
    assert.equal(body.grouped, true);
    assert.equal(body.dispatch.id, WIDE);
    assert.equal(body.nodeCount, 200);
    assert.deepEqual(body.counts, { completed: 160, running: 10, failed: 10, pending: 20, cancelled: 0 });
    assert.deepEqual(body.parameters, { shown: false, groups: 1, nodes: 100 });
    assert.equal(body.groups.length, 1);
    const g = body.groups[0];
    assert.equal(g.name, "inc");
    assert.equal(g.size, 100);
    assert.deepEqual(g.counts, { completed: 60, running: 10, failed: 10, pending: 20, cancelled: 0 });
    // 60 completed in 10..69 ms and 10 failed in 5 ms: 70 finished, median between the 35th and 36th (34 and 35 ms).
    assert.deepEqual(g.durations, { finished: 70, min: 5, median: 34.5, max: 69 });
    assert.deepEqual(g.executors, ["inline"]);
    assert.equal(g.retried, 6);
    assert.equal(g.startedAt, T0);
    assert.equal(g.endedAt, null, "not over while nodes are left to run");
    assert.deepEqual(body.edges, []);
    assert.ok(!("nodes" in body), "no per-node list in a grouped reply");
  });

  it("shows parameters when asked, with their edges", async () => {
    const { body } = await get(`/dispatches/${WIDE}/groups?parameters=true`);
    assert.deepEqual(body.groups.map((g: any) => [g.id, g.name, g.size, g.parameter]), [[0, "inc", 100, false], [1, "parameters", 100, true]]);
    assert.deepEqual(body.groups[1].counts, { completed: 100, running: 0, failed: 0, pending: 0, cancelled: 0 });
    assert.deepEqual(body.edges, [{ source: 1, target: 0, count: 100 }]);
    assert.equal(body.parameters.shown, true);
    assert.equal((await get(`/dispatches/${WIDE}/groups?parameters=0`)).body.groups.length, 1);
  });

  it("pages a group's nodes in id order by default, with status, times, duration, attempts, executor", async () => {
    const { body } = await get(`/dispatches/${WIDE}/groups/0/nodes?limit=3`);
    assert.equal(body.total, 100);
    assert.equal(body.group.name, "inc");
    assert.deepEqual(body.nodes, [
      { nodeId: 0, status: "COMPLETED", startedAt: T0, endedAt: T0 + 10, durationMs: 10, attempts: 2, executor: "inline" },
      { nodeId: 2, status: "COMPLETED", startedAt: T0, endedAt: T0 + 11, durationMs: 11, attempts: 1, executor: "inline" },
      { nodeId: 4, status: "COMPLETED", startedAt: T0, endedAt: T0 + 12, durationMs: 12, attempts: 1, executor: "inline" },
    ]);
    const page = (await get(`/dispatches/${WIDE}/groups/0/nodes?limit=10&offset=95`)).body;
    assert.deepEqual(page.nodes.map((n: any) => n.nodeId), [190, 192, 194, 196, 198]);
    const desc = (await get(`/dispatches/${WIDE}/groups/0/nodes?limit=2&order=desc`)).body;
    assert.deepEqual(desc.nodes.map((n: any) => n.nodeId), [198, 196]);
    assert.deepEqual((await get(`/dispatches/${WIDE}/groups/0/nodes?offset=500`)).body.nodes, []);
  });

  it("sorts by duration (unfinished last either way), status and attempts, ties by node id", async () => {
    const longest = (await get(`/dispatches/${WIDE}/groups/0/nodes?sort=duration&order=desc&limit=2`)).body.nodes;
    assert.deepEqual(longest.map((n: any) => [n.nodeId, n.durationMs]), [[118, 69], [116, 68]]);
    const shortest = (await get(`/dispatches/${WIDE}/groups/0/nodes?sort=duration&limit=11`)).body.nodes;
    assert.deepEqual(shortest.slice(0, 10).map((n: any) => n.durationMs), Array(10).fill(5));
    assert.equal(shortest[10].durationMs, 10);
    const last = (await get(`/dispatches/${WIDE}/groups/0/nodes?sort=duration&order=desc&offset=70&limit=30`)).body.nodes;
    assert.ok(last.every((n: any) => n.durationMs === null));
    const byStatus = (await get(`/dispatches/${WIDE}/groups/0/nodes?sort=status&limit=100`)).body.nodes.map((n: any) => n.status);
    assert.deepEqual([...new Set(byStatus)], ["NEW_OBJECT", "RUNNING", "COMPLETED", "FAILED"]);
    const retried = (await get(`/dispatches/${WIDE}/groups/0/nodes?sort=attempts&order=desc&limit=7`)).body.nodes;
    assert.deepEqual(retried.map((n: any) => [n.nodeId, n.attempts]), [[0, 2], [20, 2], [40, 2], [60, 2], [80, 2], [100, 2], [2, 1]]);
  });

  it("filters by status or colour, comma-separated, with the total that matched", async () => {
    const failed = (await get(`/dispatches/${WIDE}/groups/0/nodes?status=failed`)).body;
    assert.equal(failed.total, 10);
    assert.deepEqual(failed.status, ["FAILED"]);
    assert.ok(failed.nodes.every((n: any) => n.status === "FAILED"));
    const two = (await get(`/dispatches/${WIDE}/groups/0/nodes?status=RUNNING,pending&sort=nodeId&order=desc&limit=1`)).body;
    assert.equal(two.total, 30);
    assert.deepEqual(two.status, ["NEW_OBJECT", "PENDING_REUSE", "RUNNING", "PENDING_POSTPROCESSING"]);
    assert.equal(two.nodes[0].nodeId, 198);
    assert.equal((await get(`/dispatches/${WIDE}/groups/1/nodes?status=completed`)).body.total, 100);
  });

  it("refuses bad query values with 400 and a message naming the value", async () => {
    const cases: Array<[string, RegExp]> = [
      ["groups/0/nodes?sort=name", /^sort: "name" is not a column to sort by \(one of nodeId, duration, status, attempts\)/],
      ["groups/0/nodes?order=up", /^order: "up" must be asc or desc/],
      ["groups/0/nodes?status=DONE", /^status: "DONE" is not a status/],
      ["groups/0/nodes?limit=0", /^limit: "0" must be a whole number from 1 to 500/],
      ["groups/0/nodes?limit=501", /^limit/],
      ["groups/0/nodes?offset=-1", /^offset/],
      ["groups/0/nodes?offset=1.5", /^offset/],
      ["groups/0/nodes?limit=ten", /^limit/],
      ["groups/x/nodes", /^group: "x" is not a group id/],
      ["groups?parameters=maybe", /^parameters: "maybe" must be true or false/],
    ];
    for (const [path, message] of cases) {
      const r = await get(`/dispatches/${WIDE}/${path}`);
      assert.equal(r.status, 400, path);
      assert.equal(r.body.error.code, "BAD_REQUEST", path);
      assert.match(r.body.error.message, message, path);
    }
    const missing = await get(`/dispatches/${WIDE}/groups/2/nodes`);
    assert.equal(missing.status, 404);
    assert.match(missing.body.error.message, /has groups 0 to 1; no group 2/);
    assert.equal((await get("/dispatches/dsp_nothere/groups")).body.error.code, "DISPATCH_NOT_FOUND");
  });

  it("follows status changes between requests (the shape is cached, statuses are not)", async () => {
    const before = (await get(`/dispatches/${WIDE}/groups`)).body.groups[0].counts;
    await new Promise((r) => setTimeout(r, 120));
    await store.write((w) => {
      w.nodesCompleted(WIDE as DispatchId, join(dir, "results", WIDE), Array.from({ length: 10 }, (_, k) => ({
        node: 140 + 2 * k, encoded: encode(1), stdout: "", stderr: "", at: T0 + 100, startedAt: T0, attempt: null,
      })));
    });
    const now = (await get(`/dispatches/${WIDE}/groups`)).body.groups[0].counts;
    assert.deepEqual(before, { completed: 60, running: 10, failed: 10, pending: 20, cancelled: 0 });
    assert.deepEqual(now, { completed: 70, running: 0, failed: 10, pending: 20, cancelled: 0 });
  });
});

describe("group cache", () => {
  it("reads the graph once per dispatch, statuses once per request burst, and never again once it has ended", async () => {
    const reads = { nodes: 0, edges: 0 };
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === "getNodes") return (id: DispatchId) => (reads.nodes++, target.getNodes(id));
        if (prop === "getEdges") return (id: DispatchId) => (reads.edges++, target.getEdges(id));
        return Reflect.get(target, prop, receiver);
      },
    });
    const cache = new GroupCache(counting, 1_000_000, 60_000);
    const d = (await store.getDispatch(WIDE)) as DispatchRecord;
    await Promise.all([cache.get(d), cache.get(d), cache.get(d)]);
    assert.deepEqual(reads, { nodes: 1, edges: 1 });
    const ended = { ...d, status: "COMPLETED" as const, endedAt: T0 + 1000 };
    await cache.get(ended);
    await cache.get(ended);
    assert.deepEqual(reads, { nodes: 2, edges: 1 }, "read once more when it ended, then kept");
    // Past its size, the least recently used dispatch goes.
    const small = new GroupCache(counting, 150);
    await small.get(d);
    await small.get((await store.getDispatch("dsp_groupschain")) as DispatchRecord);
    await small.get(d);
    assert.deepEqual(reads, { nodes: 5, edges: 4 });
  });
});
