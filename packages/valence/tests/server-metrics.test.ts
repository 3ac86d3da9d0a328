// GET /metrics on a real server (runners as child processes) after real dispatches: the
// figures the runners observed reach the server, and the counts match what ran.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startServer, type RunningServer } from "../src/server/server.js";
import { sample } from "./fixtures/prometheus-text.js";

delete process.env["VALENCE_TOKEN"];
const TOKEN = "metrics-test-token";
let server: RunningServer;

before(async () => {
  // Loopback with a token given: every route, /metrics too, then needs it.
  server = await startServer({ dataDir: join(dataDir, "server"), port: 0, token: TOKEN, log: () => undefined });
  process.env.VALENCE_SERVER = server.info.url;
  process.env.VALENCE_TOKEN = TOKEN;
});
after(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const sdk = () => import("../src/index.js");
const flows = () => import("./fixtures/metrics-workflows.js");

/** GET /metrics with `token` ("" for none). */
async function scrape(token = TOKEN): Promise<Response> {
  return fetch(`${server.info.url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
}

/**
 * /metrics once `name{labels}` has reached `want`. A client can read a result from the
 * store a moment before the runner's report of that end reaches the server; every other
 * figure of the dispatch is sent before that report, so it is in by then.
 */
async function scrapeWhen(name: string, labels: Record<string, string>, want: number, reached = (v: number) => v >= want): Promise<string> {
  let text = "";
  for (let i = 0; i < 500; i++) {
    text = await (await scrape()).text();
    if (reached(sample(text, name, labels) ?? 0)) return text;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`${name}${JSON.stringify(labels)} never reached ${want}:\n${text}`);
}

describe("GET /metrics", () => {
  it("counts a dispatch's nodes by status, and times its tasks per executor, its queue waits and the store's writes", async () => {
    const { dispatch, getResult } = await sdk();
    const { fanOut } = await flows();
    const n = 6;
    const id = await dispatch(fanOut)(n);
    const result = await getResult(id, { wait: true });
    assert.equal(result.status, "COMPLETED", result.error?.message);
    const ran = result.nodes.filter((x) => !x.name.startsWith(":parameter:"));
    assert.equal(ran.length, 2 * n);

    const text = await scrapeWhen("valence_dispatches_total", { status: "COMPLETED" }, 1);
    assert.equal(sample(text, "valence_dispatches_total", { status: "COMPLETED" }), 1);
    assert.equal(sample(text, "valence_nodes_total", { status: "COMPLETED" }), ran.length);
    assert.equal(sample(text, "valence_task_duration_seconds_count", { executor: "local" }), n);
    assert.equal(sample(text, "valence_task_duration_seconds_count", { executor: "inline" }), n);
    assert.equal(sample(text, "valence_task_duration_seconds_bucket", { executor: "local", le: "+Inf" }), n);
    // The local pool says when each body began; inline runs in the dispatcher's turn and does not.
    assert.equal(sample(text, "valence_queue_wait_seconds_count", { executor: "local" }), n);
    assert.equal(sample(text, "valence_queue_wait_seconds_count", { executor: "inline" }), undefined);
    assert.ok((sample(text, "valence_store_write_seconds_count", { op: "write" }) ?? 0) > 0, "store writes are timed");
    assert.equal(sample(text, "valence_nodes_running"), 0);
    // The runner is let go of when it says it is idle, just after it reported the end.
    await scrapeWhen("valence_dispatches_running", {}, 0, (v) => v === 0);
    assert.equal(sample(text, "valence_info", { version: server.info.version }), 1);
    assert.equal(sample(text, "valence_runners", { state: "spare" }), 1, "a spare runner waits for the next dispatch");
    assert.ok(sample(text, "process_resident_memory_bytes"), "the process's own figures are there too");
  });

  it("counts failures, retries and the nodes a failure stops, by status", async () => {
    const { dispatch, getResult } = await sdk();
    const { failing } = await flows();
    const before = await (await scrape()).text();
    const id = await dispatch(failing)(1);
    assert.equal((await getResult(id, { wait: true })).status, "FAILED");
    const text = await scrapeWhen("valence_dispatches_total", { status: "FAILED" }, 1);
    assert.equal(sample(text, "valence_nodes_total", { status: "FAILED" }), 2, "the failed task and the one downstream of it");
    assert.equal(sample(text, "valence_task_retries_total", { executor: "inline" }), 1);
    const inlineBefore = sample(before, "valence_task_duration_seconds_count", { executor: "inline" }) ?? 0;
    assert.equal(sample(text, "valence_task_duration_seconds_count", { executor: "inline" }), inlineBefore + 2, "both attempts are timed");
    assert.equal(sample(text, "valence_dispatches_total", { status: "COMPLETED" }), sample(before, "valence_dispatches_total", { status: "COMPLETED" }));
  });

  it("counts cached electrons' results stored and reused, and times only the tasks that ran", async () => {
    const { dispatch, getResult } = await sdk();
    const { cachedFlow } = await flows();
    const before = await (await scrape()).text();
    const localBefore = sample(before, "valence_task_duration_seconds_count", { executor: "local" }) ?? 0;
    const completedBefore = sample(before, "valence_dispatches_total", { status: "COMPLETED" }) ?? 0;
    const first = await getResult(await dispatch(cachedFlow)([1, 2, 3]), { wait: true });
    assert.deepEqual(first.result, [2, 4, 6]);
    await scrapeWhen("valence_cache_results_total", { result: "stored" }, 3);
    // 2 and 3 are reused, 4 runs and is kept.
    const second = await getResult(await dispatch(cachedFlow)([2, 3, 4]), { wait: true });
    assert.deepEqual(second.result, [4, 6, 8]);
    assert.equal(second.nodes.filter((n) => n.cachedFrom).length, 2);
    // Every figure of a dispatch reaches the server before its end is counted.
    const text = await scrapeWhen("valence_dispatches_total", { status: "COMPLETED" }, completedBefore + 2);
    assert.equal(sample(text, "valence_cache_results_total", { result: "hit" }), 2);
    assert.equal(sample(text, "valence_cache_results_total", { result: "stored" }), 4);
    assert.equal(sample(text, "valence_task_duration_seconds_count", { executor: "local" }), localBefore + 4, "the 4 tasks that ran, not the 2 hits");
  });

  it("is Prometheus's text format, and needs the server's token like every other route", async () => {
    const ok = await scrape();
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    assert.match(await ok.text(), /^# HELP valence_task_duration_seconds .+\n# TYPE valence_task_duration_seconds histogram$/m);
    const none = await scrape("");
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, "UNAUTHORIZED");
    assert.equal((await scrape("wrong")).status, 401);
  });
});
