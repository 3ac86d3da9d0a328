// `npm test`: Valence's executor contract suite (results, failures, stdout/stderr
// capture, cancel, timeout, large values, many concurrent tasks), run against
// this executor, plus the trip through the store that every dispatch makes.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { executorFromSpec, type ExecutorSpec } from "valence/executor";
import { executorContract } from "valence/executor/testing";
import { __CLASS_NAME__, executorPluginName } from "./index.js";

let workdir: string | undefined;
after(async () => {
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

// Each task is a process of its own (a job, on a cluster), so the concurrency test runs 50 rather than thousands.
executorContract(
  "__NAME__",
  async () => {
    workdir = await mkdtemp(join(tmpdir(), "valence-__NAME__-test-"));
    return new __CLASS_NAME__({ workdir });
  },
  { concurrentTasks: 50 },
);

test("survives the trip through the store: rebuilt from its fields alone, it is the same executor", () => {
  const executor = new __CLASS_NAME__({ workdir: "/srv/valence", nodePath: "node", pollFreq: 5 });
  // A dispatch stores its executors as JSON and rebuilds them without their constructor.
  const spec = JSON.parse(JSON.stringify(executor.toSpec())) as ExecutorSpec;
  assert.equal(spec.plugin, executorPluginName);
  const rebuilt = executorFromSpec(__CLASS_NAME__, spec);
  assert.ok(rebuilt instanceof __CLASS_NAME__);
  assert.deepEqual(rebuilt.toSpec(), executor.toSpec());
  assert.equal(rebuilt.workdir, "/srv/valence");
});
