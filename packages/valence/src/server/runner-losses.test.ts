// What a dead dispatch runner costs its tasks, against a real SQLite store.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { decode } from "../codec/index.js";
import { newDispatchId, type DispatchId } from "../ids.js";
import { SqliteStore } from "../engine/store/sqlite-store.js";
import { dispatchRecord, nodeRecord } from "../engine/store/test-support/store-contract.js";
import { killedFromOutside, RunnerLosses } from "./runner-losses.js";

const dir = mkdtempSync(join(tmpdir(), "valence-losses-"));
const store = new SqliteStore(dir);
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A dispatch of `n` nodes with node 0 RUNNING (attempt 1, `retries` left, retrying on what `on` names when given). */
async function dispatchWithRunningNode(n = 2, retries = 0, on?: ReadonlyArray<{ name: string }>): Promise<DispatchId> {
  const id = newDispatchId();
  const retryPolicy = on ? JSON.stringify({ initial: 0, factor: 1, maxDelay: 0, jitter: false, on }) : null;
  await store.write((w) => w.insertDispatch(dispatchRecord(id, join(dir, id), { nodeCount: n }), Array.from({ length: n }, (_, i) => nodeRecord(i, { retries, retryPolicy })), []));
  await store.write((w) => w.nodeRunning(id, 0, 1, 1));
  return id;
}

const errorOf = async (id: DispatchId, node: number) => decode((await store.getNodes(id))[node]?.error as string) as Error;

describe("RunnerLosses", () => {
  it("a runner that exits by itself fails the task it was running, naming how and its last words", async () => {
    const id = await dispatchWithRunningNode();
    const out = await new RunnerLosses(store).afterCrash(id, "exited with code 3", "segfault in native code", false);
    assert.deepEqual(out.changes, [{ node: 0, status: "FAILED" }]);
    assert.equal(out.dispatchError, undefined, "the next runner runs the rest");
    assert.equal((await store.getNodes(id))[0]?.status, "FAILED");
    assert.match((await errorOf(id, 0)).message, /the dispatch runner exited with code 3 while task "n0\(0\)" ran; its output ended with:\nsegfault in native code/);
    assert.equal((await store.getDispatch(id))?.nodesDone, 1);
  });

  it("a task with retries left is left to run again", async () => {
    const id = await dispatchWithRunningNode(1, 1);
    const out = await new RunnerLosses(store).afterCrash(id, "exited with code 3", "", false);
    assert.deepEqual(out.changes, []);
    assert.equal((await store.getNodes(id))[0]?.status, "RUNNING");
  });

  it("a task whose retry policy does not name the runner's crash (or its timeout) fails though it has tries left; one that names it runs again", async () => {
    const picky = await dispatchWithRunningNode(1, 2, [{ name: "FetchError" }]);
    assert.deepEqual((await new RunnerLosses(store).afterCrash(picky, "exited with code 3", "", false)).changes, [{ node: 0, status: "FAILED" }]);
    assert.equal((await errorOf(picky, 0)).name, "RunnerCrashedError");
    const named = await dispatchWithRunningNode(1, 2, [{ name: "RunnerCrashedError" }]);
    assert.deepEqual((await new RunnerLosses(store).afterCrash(named, "exited with code 3", "", false)).changes, []);
    const late = await dispatchWithRunningNode(1, 2, [{ name: "FetchError" }]);
    assert.deepEqual((await new RunnerLosses(store).afterTimeout(late, [{ dispatchId: late, node: 0, timeoutMs: 50 }])).changes, [{ node: 0, status: "FAILED" }]);
    // Killed from outside is not the task's doing, whatever its policy names.
    const killed = await dispatchWithRunningNode(1, 2, [{ name: "FetchError" }]);
    assert.deepEqual((await new RunnerLosses(store).afterCrash(killed, "was killed by SIGKILL", "", true)).changes, []);
  });

  it("a runner killed from outside is not its task's doing: the task fails only in the third killed runner", async () => {
    const id = await dispatchWithRunningNode();
    const losses = new RunnerLosses(store);
    assert.ok(killedFromOutside("SIGKILL") && killedFromOutside("SIGTERM") && !killedFromOutside("SIGSEGV") && !killedFromOutside(null));
    assert.deepEqual((await losses.afterCrash(id, "was killed by SIGKILL", "", true)).changes, []);
    assert.deepEqual((await losses.afterCrash(id, "was killed by SIGKILL", "", true)).changes, []);
    assert.deepEqual((await losses.afterCrash(id, "was killed by SIGKILL", "", true)).changes, [{ node: 0, status: "FAILED" }]);
    assert.match((await errorOf(id, 0)).message, /running in each of the 3 runners killed so far/);
  });

  it("three exits in a row with no task running give the dispatch up, with the reason; forget() starts the count again", async () => {
    const id = newDispatchId();
    await store.write((w) => w.insertDispatch(dispatchRecord(id, join(dir, id), { nodeCount: 1 }), [nodeRecord(0)], []));
    const losses = new RunnerLosses(store);
    assert.equal((await losses.afterCrash(id, "exited with code 1", "", false)).dispatchError, undefined);
    losses.forget(id);
    assert.equal((await losses.afterCrash(id, "exited with code 1", "", false)).dispatchError, undefined);
    assert.equal((await losses.afterCrash(id, "exited with code 1", "", false)).dispatchError, undefined);
    const out = await losses.afterCrash(id, "exited with code 1", "boot loop", false);
    assert.ok(out.dispatchError !== undefined);
    assert.match((decode(out.dispatchError) as Error).message, /exited with code 1, 3 times in a row with no task running; its output ended with:\nboot loop/);
    assert.notEqual((await store.getDispatch(id))?.status, "FAILED", "the supervisor stores it, after publishing the node changes");
  });

  it("a task that blocked its runner past its timeout fails with TaskTimeoutError; one with retries left does not", async () => {
    const id = await dispatchWithRunningNode(2);
    await store.write((w) => w.nodeRunning(id, 1, 1, 1));
    const out = await new RunnerLosses(store).afterTimeout(id, [{ dispatchId: id, node: 0, timeoutMs: 50 }]);
    assert.deepEqual(out.changes, [{ node: 0, status: "FAILED" }]);
    assert.equal((await errorOf(id, 0)).name, "TaskTimeoutError");
    assert.match((await errorOf(id, 0)).message, /blocked its runner's event loop, so the runner was stopped/);
    assert.equal((await store.getNodes(id))[1]?.status, "RUNNING", "the other task runs again in the next runner");
    const retrying = await dispatchWithRunningNode(1, 1);
    assert.deepEqual((await new RunnerLosses(store).afterTimeout(retrying, [{ dispatchId: retrying, node: 0, timeoutMs: 50 }])).changes, []);
  });
});
