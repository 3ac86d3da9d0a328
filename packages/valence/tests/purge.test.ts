// `valence purge` on a real data dir (SQLite on disk, the results dir, bundles): what goes,
// what stays whole, the space given back, the dry run, and refused options.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { dispatch, getResult } from "../src/index.js";
import { Engine } from "../src/engine/index.js";
import type { DispatchId } from "../src/ids.js";
import * as wf from "./fixtures/purge-workflows.js";

const bin = fileURLToPath(new URL("../bin/valence.js", import.meta.url));
const env = { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_SERVER: "embedded" };
const purgeCli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, "purge", ...args], { env, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** Bytes of every file under `path` (0 when it is not there). */
function du(path: string): number {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((s, f) => s + du(join(path, f)), 0);
}
const onDisk = () => du(join(dataDir, "results")) + du(join(dataDir, "bundles")) + du(join(dataDir, "blobs"));

describe("valence purge", () => {
  it("removes old finished dispatches whole, keeps the others whole and running ones untouched, and gives back the space it says", { timeout: 120_000 }, async () => {
    const bigId = await dispatch(wf.bigFlow)(400_000);
    const nestedId = await dispatch(wf.nestedFlow)(1);
    const failedId = await dispatch(wf.failingFlow)();
    const keptId = await dispatch(wf.bigFlow)(300_000);
    for (const id of [bigId, nestedId, failedId, keptId]) await getResult(id, { wait: true });
    const gate = join(dataDir, "purge-gate");
    const runningId = await dispatch(wf.heldFlow)(gate);
    const store = (await Engine.current()).store;
    const children = await store.childDispatches(nestedId as DispatchId);
    assert.equal(children.length, 1, "the sublattice ran as a child dispatch");
    const keptBefore = await getResult(keptId);
    const bundles = readdirSync(join(dataDir, "bundles"));
    assert.ok(bundles.length >= 1);

    // A dry run says what would go and changes nothing.
    const before = onDisk();
    const dry = purgeCli("--older-than", "0s", "--status", "FAILED", "--dry-run");
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, new RegExp(`^${failedId}  FAILED `, "m"));
    assert.match(dry.out, /would remove 1 dispatch \(1 with sublattice runs\), 0 unused bundle files, 0 uploaded values: .* on disk \(dry run: nothing changed\)/);
    assert.ok(await store.getDispatch(failedId), "the dry run removed something");
    assert.equal(onDisk(), before);

    // Only FAILED: the failed dispatch goes, the bundle it shares with kept ones stays.
    const failedOnly = purgeCli("--older-than", "0s", "--status", "failed");
    assert.equal(failedOnly.code, 0, failedOnly.err);
    assert.equal(await store.getDispatch(failedId), undefined);
    assert.deepEqual(readdirSync(join(dataDir, "bundles")), bundles);

    // What stays reads back whole: every kept dispatch's result, node outputs and logs.
    const keptAfter = await getResult(keptId);
    assert.deepEqual([keptAfter.status, keptAfter.result, keptAfter.nodes.map((n) => [n.status, n.output, n.stdout])], [keptBefore.status, keptBefore.result, keptBefore.nodes.map((n) => [n.status, n.output, n.stdout])]);
    assert.equal((await getResult(nestedId)).result, 3);
    assert.equal((await getResult(bigId)).result, "x".repeat(400_000));

    // A cutoff before every end removes nothing.
    const keptEnded = (await store.getDispatch(keptId))?.endedAt as number;
    const none = purgeCli("--older-than", `${Date.now() - keptEnded + 60_000}ms`);
    assert.match(none.out, /removed 0 dispatches/);

    const resultsOfBig = join(dataDir, "results", bigId);
    assert.ok(du(resultsOfBig) > 400_000, "the big output lives in the results dir");
    const spaceBefore = onDisk();
    const plan = purgeCli("--older-than", "0s", "--dry-run");
    const said = /: (.*) on disk/.exec(plan.out)?.[1];
    const all = purgeCli("--older-than", "0s");
    assert.equal(all.code, 0, all.err);
    assert.match(all.out, /removed 3 dispatches \(4 with sublattice runs\)/);
    for (const id of [bigId, nestedId, keptId, children[0]?.id as DispatchId]) assert.equal(await store.getDispatch(id), undefined, `${id} is still stored`);
    assert.equal(existsSync(resultsOfBig), false);
    const reclaimed = spaceBefore - onDisk();
    assert.ok(reclaimed > 700_000, `only ${reclaimed} bytes given back`);
    assert.match(all.out, new RegExp(`: ${said?.replace(/[.()]/g, "\\$&")} on disk`), "the dry run and the purge disagree on the space");
    // The running dispatch is untouched, and still runs to the end.
    assert.ok(await store.getDispatch(runningId));
    writeFileSync(gate, "");
    assert.equal((await getResult(runningId, { wait: true })).result, "opened");
  });

  it("refuses a purge without an age, or with a bad age or status, naming what to write", () => {
    const missing = purgeCli();
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--older-than AGE is required \(such as 30d\)/);
    const badAge = purgeCli("--older-than", "30 days");
    assert.equal(badAge.code, 2);
    assert.match(badAge.err, /--older-than must be an age such as 30d, 12h, 90m or 1w, not "30 days"/);
    const running = purgeCli("--older-than", "1d", "--status", "RUNNING");
    assert.equal(running.code, 2);
    assert.match(running.err, /--status takes final statuses \(COMPLETED, FAILED, CANCELLED\), not "RUNNING": a dispatch that has not finished is never purged/);
  });
});
