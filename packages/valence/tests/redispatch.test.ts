// Redispatch, embedded: reuse of completed outputs, replaced electrons, and the errors that name what to fix.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, beforeEach, describe, it } from "node:test";
import { dispatch, getResult, redispatch } from "../src/index.js";
import { add, addOnLocal, addPlusOne, flow, slowFlow } from "./fixtures/redispatch-workflows.js";

const runLog = join(dataDir, "runs.log");
process.env.VALENCE_TEST_RUN_LOG = runLog;
const runs = () => readFileSync(runLog, "utf8").trim().split("\n").filter(Boolean);

after(() => rmSync(dataDir, { recursive: true, force: true }));
beforeEach(() => writeFileSync(runLog, ""));

async function finished(id: string) {
  const r = await getResult(id, { wait: true });
  assert.equal(r.status, "COMPLETED", r.error?.message);
  return r;
}

describe("redispatch", () => {
  it("runs the same graph again as a new dispatch, every node anew by default", async () => {
    const first = await dispatch(flow)(1, 2);
    await finished(first);
    const again = await redispatch(first);
    assert.notEqual(again, first);
    const r = await finished(again);
    assert.deepEqual(r.result, [6, 1]);
    assert.deepEqual(r.inputs.args, [1, 2]);
    assert.deepEqual(runs().sort(), ["add", "add", "double", "double", "echo", "echo"]);
  });

  it("with reusePreviousResults, runs nothing whose inputs cannot have changed", async () => {
    const first = await dispatch(flow)(1, 2);
    await finished(first);
    writeFileSync(runLog, "");
    const r = await finished(await redispatch(first, { reusePreviousResults: true }));
    assert.deepEqual(r.result, [6, 1]);
    assert.deepEqual(runs(), []);
    assert.ok(r.nodes.every((n) => n.status === "COMPLETED"));
  });

  it("runs a replaced electron's new code and what depends on it; the rest is reused", async () => {
    const first = await dispatch(flow)(1, 2);
    await finished(first);
    writeFileSync(runLog, "");
    const r = await finished(await redispatch(first, { reusePreviousResults: true, replaceElectrons: { add: addPlusOne } }));
    assert.deepEqual(r.result, [8, 1]);
    assert.deepEqual(runs().sort(), ["addPlusOne", "double"]);
    assert.equal(r.nodes.find((n) => n.name === "add")?.output, 4, "the node keeps its name in the graph");
  });

  it("runs a replacement on its own executor (local workers load its bundle)", async () => {
    const first = await dispatch(flow)(1, 2);
    await finished(first);
    const r = await finished(await redispatch(first, { reusePreviousResults: true, replaceElectrons: { add: addOnLocal } }));
    assert.deepEqual(r.result, [206, 1]);
    assert.equal(r.nodes.find((n) => n.name === "add")?.executor, "local");
  });

  it("refuses what it cannot do, saying what to fix", async () => {
    const first = await dispatch(flow)(1, 2);
    await finished(first);
    await assert.rejects(redispatch(first, { replaceElectrons: { subtract: addPlusOne } }), {
      name: "RedispatchError",
      message: /no electron named "subtract" to replace; its electrons are: add, double, echo/,
    });
    await assert.rejects(redispatch(first, { replaceElectrons: { add } }), {
      name: "RedispatchError",
      message: /the replacement for "add" is defined at the same place as "add".*define the new implementation as a new electron/,
    });
    await assert.rejects(redispatch(first, { replaceElectrons: { add: ((x: number) => x) as never } }), {
      name: "ReplaceElectronError",
      message: /replaceElectrons\.add: must be an electron/,
    });
    await assert.rejects(redispatch("dsp_000000000000nothere"), { name: "DispatchNotFoundError" });
  });

  it("refuses a dispatch that is still running", async () => {
    const running = await dispatch(slowFlow)(300);
    await assert.rejects(redispatch(running), { name: "RedispatchError", message: /is still RUNNING; redispatch it once it has finished/ });
    await finished(running);
  });
});
