// Workflows dispatched as a user would, their tasks running on a real Dask scheduler and worker.
import { dataDir } from "./test-support/env.js";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startDask, type Dask } from "@valence/test-services";
import { cancel, dispatch, dispatchSync, getResult } from "valence";
import { liveBridges } from "./bridge-pool.js";
import { waitForPid, waitUntilGone } from "./test-support/pids.js";

const LIMIT = { timeout: 30_000 };
let dir: string;
let dask: Dask;
let wf: typeof import("./test-support/workflows.js");

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "valence-dask-dispatch-"));
  dask = await startDask(dir);
  process.env.VALENCE_TEST_DASK_ADDRESS = dask.schedulerAddress;
  // Read when the engine starts, at the first dispatch.
  writeFileSync(process.env.VALENCE_CONFIG as string, `[executors.dask]\nschedulerAddress = "${dask.schedulerAddress}"\n`);
  process.env.VALENCE_TEST_DASK_CLOSED = `tcp://127.0.0.1:${await closedPort()}`;
  wf = await import("./test-support/workflows.js");
}, { timeout: 60_000 });

after(async () => {
  await dask?.stop();
  await rm(dir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

describe("dispatch to Dask", () => {
  it("runs DESIGN.md's example graph: workflow(3, 4) is 28", LIMIT, async () => {
    const id = await dispatch(wf.workflow)(3, 4);
    const result = await getResult<number>(id, { wait: true });
    assert.equal(result.status, "COMPLETED", result.toString());
    assert.equal(result.result, 28);
    assert.match(result.toString(), /result: 28\n/);
    assert.deepEqual(result.nodes.filter((n) => n.kind === "electron").map((n) => [n.name, n.output]), [["add", 7], ["multiply", 28]]);
  });

  it("fans out 20 squares and sums them", LIMIT, async () => {
    const r = await dispatchSync(wf.sumOfSquares)(20);
    assert.equal(r.status, "COMPLETED", r.toString());
    assert.equal(r.result, Array.from({ length: 20 }, (_, i) => i * i).reduce((a, b) => a + b, 0));
    assert.equal(r.nodes.filter((n) => n.name === "square" && n.status === "COMPLETED").length, 20);
  });

  it("runs electrons that name the executor \"dask\", configured in [executors.dask]", LIMIT, async () => {
    const r = await dispatchSync(wf.byNameFlow)(21);
    assert.equal(r.status, "COMPLETED", r.toString());
    assert.equal(r.result, 42);
  });

  it("fails a node with the user's message and the stack from the worker", LIMIT, async () => {
    const r = await dispatchSync(wf.failing)("bad input");
    assert.equal(r.status, "FAILED");
    const node = r.nodes.find((n) => n.name === "boom");
    assert.equal(node?.status, "FAILED");
    assert.equal(node?.error?.message, "boom: bad input");
    assert.match(node?.error?.stack ?? "", /test-support\/workflows\.ts/);
  });

  it("cancel stops the node process on the worker", LIMIT, async () => {
    const pidFile = join(dir, "cancel.pid");
    const id = await dispatch(wf.napFlow)(pidFile, 60_000);
    const pid = await waitForPid(pidFile);
    await cancel(id);
    const r = await getResult(id, { wait: true });
    assert.equal(r.status, "CANCELLED");
    assert.equal(r.nodes.find((n) => n.name === "nap")?.status, "CANCELLED");
    await waitUntilGone(pid);
  });

  it("a task's timeout stops the node process on the worker", LIMIT, async () => {
    // A timeout of 3 s: the process must have started (and written its pid) before it fires, even on a busy machine.
    const pidFile = join(dir, "timeout.pid");
    const id = await dispatch(wf.timeoutFlow)(pidFile, 60_000);
    const pid = await waitForPid(pidFile);
    const r = await getResult(id, { wait: true });
    assert.equal(r.status, "FAILED");
    const error = r.nodes.find((n) => n.name === "napBriefly")?.error;
    assert.equal(error?.name, "TaskTimeoutError");
    assert.match(error?.message ?? "", /timed out after 3000 ms/);
    await waitUntilGone(pid);
  });

  it("a bridge that dies fails its running tasks with the reason; the next task starts a new bridge", LIMIT, async () => {
    const pidFile = join(dir, "orphan.pid");
    const id = await dispatch(wf.napFlow)(pidFile, 60_000);
    const pid = await waitForPid(pidFile);
    const bridge = liveBridges().find((b) => b.config.schedulerAddress === dask.schedulerAddress);
    assert.ok(bridge?.pid, "no live bridge");
    process.kill(bridge.pid, "SIGKILL");
    const r = await getResult(id, { wait: true });
    assert.equal(r.status, "FAILED");
    const error = r.nodes.find((n) => n.name === "nap")?.error;
    assert.match(error?.message ?? "", /Dask bridge process .* ended with signal SIGKILL/);
    // Its client gone, the scheduler cancels the future and the worker kills the process.
    await waitUntilGone(pid);
    const again = await dispatchSync(wf.workflow)(3, 4);
    assert.equal(again.result, 28);
  });

  it("a worker without node fails the node saying to set nodePath", LIMIT, async () => {
    const r = await dispatchSync(wf.nodelessFlow)(1);
    assert.equal(r.status, "FAILED");
    const error = r.nodes.find((n) => n.name === "nodeless")?.error;
    assert.equal(error?.name, "RemoteTaskError");
    assert.match(error?.message ?? "", /cannot start node \('\/nonexistent\/node'\) on worker tcp:\/\/127\.0\.0\.1:\d+: .*set the executor's nodePath option/);
  });

  it("an unreachable scheduler fails the node within connectTimeout with a clear error", LIMIT, async () => {
    const t0 = Date.now();
    const r = await dispatchSync(wf.lostFlow)(1);
    assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
    assert.equal(r.status, "FAILED");
    const error = r.nodes.find((n) => n.name === "lost")?.error;
    assert.equal(error?.name, "DaskSchedulerUnreachableError");
    assert.match(error?.message ?? "", /cannot reach the Dask scheduler at tcp:\/\/127\.0\.0\.1:\d+ within 3 s.*check schedulerAddress/s);
  });

  // Last: it kills this file's scheduler.
  it("a scheduler that dies fails the running node at once and its worker's node process stops", LIMIT, async () => {
    const pidFile = join(dir, "lost.pid");
    const id = await dispatch(wf.napFlow)(pidFile, 60_000);
    const pid = await waitForPid(pidFile);
    const [, schedulerPid] = dask.pids;
    process.kill(schedulerPid as number, "SIGKILL");
    const r = await getResult(id, { wait: true });
    assert.equal(r.status, "FAILED");
    assert.match(r.nodes.find((n) => n.name === "nap")?.error?.message ?? "", /the connection to the Dask scheduler was lost/);
    // The worker closes when its scheduler goes; it kills what it still runs.
    await waitUntilGone(pid);
  });
});

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
