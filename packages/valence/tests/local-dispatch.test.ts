// Cancel and timeout of tasks running in the local worker pool, through a real dispatch.
import "./fixtures/env.js";
import assert from "node:assert/strict";
import { it } from "node:test";
import { cancel, dispatch, dispatchSync, getResult } from "../src/index.js";
import { snoozeFlow, timeoutFlow } from "./fixtures/local-workflows.js";

it("cancels a task running on a local worker promptly", async () => {
  const id = await dispatch(snoozeFlow)(20_000);
  for (let i = 0; (await getResult(id)).nodes[0]?.status !== "RUNNING"; i++) {
    assert.ok(i < 2000, "the task never started");
    await new Promise((r) => setTimeout(r, 5));
  }
  const t0 = Date.now();
  await cancel(id);
  const r = await getResult(id, { wait: true });
  assert.ok(Date.now() - t0 < 10_000);
  assert.equal(r.status, "CANCELLED");
  assert.equal(r.nodes[0]?.status, "CANCELLED");
});

it("times out a task running on a local worker", async () => {
  const r = await dispatchSync(timeoutFlow)(20_000);
  assert.equal(r.status, "FAILED");
  assert.equal(r.nodes[0]?.error?.name, "TaskTimeoutError");
  assert.match(r.nodes[0]?.error?.message ?? "", /timed out after 200 ms/);
});
