// The shared executor contract, and the bridge's life, against a real Dask scheduler and
// worker started for this file.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { isAlive as alive, startDask, type Dask } from "@valence/test-services";
import { executorFromSpec } from "valence/executor";
import { executorContract } from "valence/executor/testing";
import { closeUnusedBridges, liveBridges } from "./bridge-pool.js";
import { DaskExecutor } from "./index.js";

const LIMIT = { timeout: 30_000 };
let dir: string;
let dask: Dask;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "valence-dask-contract-"));
  dask = await startDask(dir);
}, { timeout: 60_000 });

after(async () => {
  await dask?.stop();
  await rm(dir, { recursive: true, force: true });
});

// The default: persistent runners on the workers.
// liveOutput: the worker relays a running task's output through the bridge (runner output
// lines, or the per-task process's output.jsonl), so the suite checks task.live in both modes.
executorContract("dask", () => new DaskExecutor({ schedulerAddress: dask.schedulerAddress, python: dask.python }), {
  concurrentTasks: 200,
  liveOutput: true,
});
// A node process per task: 200 of them would be 200 node starts on the worker's 2 threads,
// too close to the contract's 30 s limit on a loaded machine; the runner suite above runs 200.
executorContract(
  "dask, isolation \"process\"",
  () => new DaskExecutor({ schedulerAddress: dask.schedulerAddress, python: dask.python, isolation: "process" }),
  { concurrentTasks: 40, liveOutput: true },
);

describe("the dask bridge", () => {
  const ours = () => liveBridges().filter((b) => b.config.schedulerAddress === dask.schedulerAddress);

  it("is one process per scheduler, shared by executors rebuilt from a spec; it outlives the last teardown a while, then closes", LIMIT, async () => {
    await closeUnusedBridges(); // the contract suites' bridges, left lingering
    const a = new DaskExecutor({ schedulerAddress: dask.schedulerAddress });
    const b = executorFromSpec(DaskExecutor, a.toSpec()) as DaskExecutor;
    await a.validateCredentials();
    await b.validateCredentials();
    const [bridge, ...more] = ours();
    assert.ok(bridge);
    assert.equal(more.length, 0);
    await a.teardown();
    assert.equal(bridge.closed, false);
    await b.teardown();
    // Unused, it lingers: the next dispatch finds it connected.
    assert.equal(bridge.closed, false);
    await a.validateCredentials();
    assert.equal(ours()[0], bridge);
    await a.teardown();
    // Its linger over (here cut short), it closes; used again, an executor starts a new bridge.
    await closeUnusedBridges();
    assert.equal(bridge.closed, true);
    assert.ok(!alive(bridge.pid!), "the bridge process still runs after it closed");
    assert.deepEqual(ours(), []);
    await a.validateCredentials();
    assert.notEqual(ours()[0], bridge);
    await a.teardown();
    await closeUnusedBridges();
    assert.deepEqual(ours(), []);
  });

  it("does not keep a script alive that never tears down, and leaves with it", LIMIT, async () => {
    const script = fileURLToPath(new URL("./test-support/no-teardown.ts", import.meta.url));
    const run = spawnSync(process.execPath, ["--import", "tsx", script, dask.schedulerAddress], { encoding: "utf8", timeout: 20_000 });
    assert.equal(run.status, 0, `exit ${run.status} ${run.signal ?? ""}: ${run.stderr}`);
    const { bridgePid } = JSON.parse(run.stdout) as { bridgePid: number };
    for (let i = 0; alive(bridgePid); i++) {
      assert.ok(i < 200, "the bridge outlived its dispatcher by 5 s");
      await new Promise((r) => setTimeout(r, 25));
    }
  });
});

