// Persistent task runners on the workers (isolation "runner", the default) against a real
// Dask scheduler and worker started for this file, and the per-task processes of
// isolation "process" for comparison. Nothing here asserts on time.
import { dataDir } from "./test-support/env.js";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isAlive as alive, startDask, type Dask } from "@valence/test-services";
import { cancel, dispatch, dispatchSync, getResult } from "valence";
import { waitForPid, waitUntilGone } from "./test-support/pids.js";

const LIMIT = { timeout: 30_000 };
let dir: string;
let dask: Dask;
let wf: typeof import("./test-support/workflows.js");

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "valence-dask-runners-"));
  dask = await startDask(dir);
  process.env.VALENCE_TEST_DASK_ADDRESS = dask.schedulerAddress;
  wf = await import("./test-support/workflows.js");
}, { timeout: 60_000 });

after(async () => {
  await dask?.stop();
  await rm(dir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

describe("persistent runners on Dask workers", () => {
  it("runs tasks one after another in one runner process", LIMIT, async () => {
    const r = await dispatchSync(wf.pidChain)(8);
    assert.equal(r.status, "COMPLETED", r.toString());
    const pids = r.result as number[];
    assert.equal(pids.length, 8);
    assert.equal(new Set(pids).size, 1, `pids: ${pids.join(", ")}`);
    assert.notEqual(pids[0], dask.pids[0], "the task ran in the worker's own process");
    assert.ok(alive(pids[0] as number), "the runner is gone after its tasks: it should wait for more");
    // Each task's timeline row is the Dask worker that ran it (the one worker of this cluster).
    const { Engine } = await import("valence/engine");
    const lanes = (await (await Engine.current()).store.getNodes(r.dispatchId)).filter((n) => n.kind === "electron").map((n) => n.lane);
    assert.equal(lanes.length, 8);
    assert.equal(new Set(lanes).size, 1, `lanes: ${lanes.join(", ")}`);
    assert.match(lanes[0] ?? "", /^dask tcp:\/\/127\.0\.0\.1:\d+$/);
    // Another dispatch of the same code finds the runner idle.
    const again = await dispatchSync(wf.pidChain)(2);
    assert.deepEqual(again.result, [pids[0], pids[0]]);
  });

  it("with isolation \"process\", runs each task in a node process of its own", LIMIT, async () => {
    const r = await dispatchSync(wf.pidChainProcess)(5);
    assert.equal(r.status, "COMPLETED", r.toString());
    const pids = r.result as number[];
    assert.equal(new Set(pids).size, 5, `pids: ${pids.join(", ")}`);
    for (const pid of pids) assert.ok(!alive(pid), `the task process ${pid} outlived its task`);
  });

  it("with isolation \"process\", cancel kills the task's process while its output is followed live", LIMIT, async () => {
    const pidFile = join(dir, "process-cancelled.pid");
    const id = await dispatch(wf.napProcessFlow)(pidFile, 60_000);
    const pid = await waitForPid(pidFile);
    await cancel(id);
    assert.equal((await getResult(id, { wait: true })).status, "CANCELLED");
    await waitUntilGone(pid);
    const next = await dispatchSync(wf.chainProcess)(2);
    assert.equal(next.status, "COMPLETED", next.toString());
  });

  it("a task that calls process.exit fails alone, with its exit code; the next task gets a new runner", LIMIT, async () => {
    const before = (await dispatchSync(wf.pidChain)(1)).result as number[];
    const r = await dispatchSync(wf.exitFlow)(7);
    assert.equal(r.status, "FAILED");
    const error = r.nodes.find((n) => n.name === "exitWith")?.error;
    assert.equal(error?.name, "RemoteTaskError");
    assert.match(error?.message ?? "", /task "exitWith" \(node \d+\) ended without a result \(exit code 7\)/);
    const next = await dispatchSync(wf.pidChain)(3);
    assert.equal(next.status, "COMPLETED", next.toString());
    const pids = next.result as number[];
    assert.equal(new Set(pids).size, 1);
    // The idle runner took the exit, so it is gone and the next tasks run in a fresh one.
    assert.ok(!alive(before[0] as number), "the runner that ran process.exit still runs");
    assert.notEqual(pids[0], before[0]);
  });

  it("cancel kills the runner of the cancelled task only; the other runner finishes its task and runs the next ones", LIMIT, async () => {
    const cancelled = join(dir, "cancelled.pid");
    const kept = join(dir, "kept.pid");
    const idA = await dispatch(wf.napFlow)(cancelled, 60_000);
    const idB = await dispatch(wf.napFlow)(kept, 3000);
    const [pidA, pidB] = await Promise.all([waitForPid(cancelled), waitForPid(kept)]);
    assert.notEqual(pidA, pidB, "two tasks at once share a runner");
    await cancel(idA);
    assert.equal((await getResult(idA, { wait: true })).status, "CANCELLED");
    await waitUntilGone(pidA);
    assert.ok(alive(pidB), "the other task's runner was killed too");
    const b = await getResult<number>(idB, { wait: true });
    assert.equal(b.status, "COMPLETED", b.toString());
    assert.equal(b.result, 3000);
    const next = await dispatchSync(wf.pidChain)(3);
    assert.equal(next.status, "COMPLETED", next.toString());
    assert.deepEqual(next.result, [pidB, pidB, pidB], "the surviving runner was not reused");
  });

  // Last: it kills this file's worker.
  it("no runner outlives its worker, busy or idle: a killed worker's runners see EOF on stdin and exit", LIMIT, async (t) => {
    const pidFile = join(dir, "orphan.pid");
    const id = await dispatch(wf.napFlow)(pidFile, 60_000);
    const busy = await waitForPid(pidFile);
    // A short task beside it, on the worker's other thread, leaves a second runner idle.
    const short = await dispatchSync(wf.napFlow)(join(dir, "short.pid"), 10);
    assert.equal(short.status, "COMPLETED", short.toString());
    const runners = runnerPids(dir);
    assert.ok(runners.includes(busy), `the busy runner ${busy} is not among ${runners.join(", ")}`);
    assert.ok(runners.length >= 2, `expected an idle runner besides the busy one, found ${runners.join(", ")}`);
    const [workerPid] = dask.pids;
    process.kill(workerPid as number, "SIGKILL");
    for (const pid of runners) await waitUntilGone(pid);
    // Its worker gone, the running task fails (Dask gives up on a task whose worker died under it).
    const r = await getResult(id, { wait: true });
    assert.equal(r.status, "FAILED");
    t.diagnostic(`the task whose worker was killed: ${r.nodes.find((n) => n.name === "nap")?.error?.message ?? ""}`);
  });
});

/** Pids of the `--serve` runners whose working directory is under `root`. */
function runnerPids(root: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (argv.includes("--serve") && readlinkSync(`/proc/${entry}/cwd`).startsWith(root)) pids.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}
