// Per-task overhead on a real Dask scheduler and worker (2 threads), printed as diagnostics.
// Measured through dispatch, as a user sees it; nothing here asserts on time.
import { dataDir } from "./test-support/env.js";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { startDask, type Dask } from "@valence/test-services";
import { dispatchSync } from "valence";

let dir: string;
let dask: Dask;
let wf: typeof import("./test-support/workflows.js");

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "valence-dask-overhead-"));
  dask = await startDask(dir);
  process.env.VALENCE_TEST_DASK_ADDRESS = dask.schedulerAddress;
  wf = await import("./test-support/workflows.js");
  // Warm: bridge started, bundle scattered, worker directories made.
  assert.equal((await dispatchSync(wf.workflow)(3, 4)).result, 28);
}, { timeout: 60_000 });

after(async () => {
  await dask?.stop();
  await rm(dir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

it("prints ms per task: 200 at once, 50 in a chain (runners, then a process per task), and a bare node start for scale", { timeout: 90_000 }, async (t) => {
  let t0 = performance.now();
  const wide = await dispatchSync(wf.sumOfSquares)(200);
  const wideMs = performance.now() - t0;
  assert.equal(wide.status, "COMPLETED");

  t0 = performance.now();
  const chained = await dispatchSync(wf.chain)(50);
  const chainMs = performance.now() - t0;
  assert.equal(chained.result, 50);

  assert.equal((await dispatchSync(wf.chainProcess)(2)).result, 2); // warm, as the runner chain is
  t0 = performance.now();
  const chainedProcess = await dispatchSync(wf.chainProcess)(50);
  const chainProcessMs = performance.now() - t0;
  assert.equal(chainedProcess.result, 50);

  t0 = performance.now();
  for (let i = 0; i < 10; i++) spawnSync(process.execPath, ["-e", "0"]);
  const nodeMs = (performance.now() - t0) / 10;

  const lines = [
    `200 trivial tasks at once (+1 sum): ${wideMs.toFixed(0)} ms, ${(wideMs / 201).toFixed(1)} ms/task on 2 worker threads`,
    `50 tasks in a chain: ${chainMs.toFixed(0)} ms, ${(chainMs / 50).toFixed(1)} ms/task`,
    `50 tasks in a chain, isolation "process": ${chainProcessMs.toFixed(0)} ms, ${(chainProcessMs / 50).toFixed(1)} ms/task`,
    `for scale, one bare \`node -e 0\` here: ${nodeMs.toFixed(1)} ms`,
  ];
  for (const line of lines) t.diagnostic(line);
});
