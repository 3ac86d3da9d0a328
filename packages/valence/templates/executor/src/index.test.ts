// `npm test`: Valence's executor contract suite (results, failures, stdout/stderr
// capture, cancel, timeout, large values, many concurrent tasks), run against
// this executor, plus the trip through the store that every dispatch makes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { executorFromSpec, type ExecutorSpec } from "valence/executor";
import { executorContract } from "valence/executor/testing";
import { __CLASS_NAME__, executorPluginDefaults, executorPluginName } from "./index.js";

executorContract("__NAME__", () => new __CLASS_NAME__({ ...executorPluginDefaults }));

test("survives the trip through the store: rebuilt from its fields alone, it is the same executor", () => {
  const executor = new __CLASS_NAME__({ ...executorPluginDefaults });
  // A dispatch stores its executors as JSON and rebuilds them without their constructor.
  const spec = JSON.parse(JSON.stringify(executor.toSpec())) as ExecutorSpec;
  assert.equal(spec.plugin, executorPluginName);
  const rebuilt = executorFromSpec(__CLASS_NAME__, spec);
  assert.ok(rebuilt instanceof __CLASS_NAME__);
  assert.deepEqual(rebuilt.toSpec(), executor.toSpec());
});
