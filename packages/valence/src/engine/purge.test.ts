// Which bundles and blobs a purge takes, on a real SQLite store and data dir: a bundle stays
// while a kept dispatch, or a kept dispatch's node (a replaced electron), names it; a new one
// stays whatever names it. And the options a purge refuses.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { newDispatchId } from "../ids.js";
import { parseAge, parseStatuses, planPurge, purge, PurgeOptionsError } from "./purge.js";
import { SqliteStore } from "./store/sqlite-store.js";
import { dispatchRecord, nodeRecord } from "./store/test-support/store-contract.js";

describe("purge: bundles and blobs", () => {
  const dir = mkdtempSync(join(tmpdir(), "valence-purge-"));
  const store = new SqliteStore(dir);
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const bundles = join(dir, "bundles");
  mkdirSync(bundles, { recursive: true });
  mkdirSync(join(dir, "blobs"), { recursive: true });
  const hour = 3_600_000;
  const now = Date.now();
  /** A file `ageMs` old. */
  const file = (path: string, ageMs: number) => {
    writeFileSync(path, "x".repeat(100));
    const t = (now - ageMs) / 1000;
    utimesSync(path, t, t);
    return path;
  };

  it("takes the bundles only purged dispatches named, keeps those a kept dispatch or its node names, and new ones", async () => {
    const [oldOnly, keptOwn, keptNode, fresh] = ["a", "b", "c", "d"].map((c) => join(bundles, `${c.repeat(64)}.mjs`)) as [string, string, string, string];
    for (const b of [oldOnly, keptOwn, keptNode]) file(b, 48 * hour);
    file(`${oldOnly}.map`, 48 * hour);
    file(fresh, 0);
    const oldBlob = file(join(dir, "blobs", "e".repeat(64)), 48 * hour);
    const newBlob = file(join(dir, "blobs", "f".repeat(64)), 0);
    const gone = newDispatchId();
    const kept = newDispatchId();
    await store.write((w) => {
      w.insertDispatch(dispatchRecord(gone, join(dir, "results", gone), { bundlePath: oldOnly, nodeCount: 1 }), [nodeRecord(0)], []);
      w.insertDispatch(
        dispatchRecord(kept, join(dir, "results", kept), { bundlePath: keptOwn, createdAt: 2, nodeCount: 1 }),
        [nodeRecord(0, { bundlePath: keptNode })],
        [],
      );
      // Ended 30 h and 1 h ago.
      w.dispatchStatus(gone, "COMPLETED", now - 30 * hour, { ended: true });
      w.dispatchStatus(kept, "COMPLETED", now - hour, { ended: true });
    });
    const plan = await planPurge(store, { olderThanMs: 24 * hour, now });
    assert.deepEqual(plan.dispatchIds, [gone]);
    assert.deepEqual([...plan.bundles].sort(), [oldOnly, `${oldOnly}.map`]);
    assert.deepEqual(plan.blobs, [oldBlob]);
    assert.equal(plan.bytes, 300);
    await purge(store, plan);
    assert.equal(await store.getDispatch(gone), undefined);
    assert.ok(await store.getDispatch(kept));
    assert.deepEqual([oldOnly, keptOwn, keptNode, fresh, oldBlob, newBlob].map((p) => existsSync(p)), [false, true, true, true, false, true]);
  });

  it("refuses ages and statuses it cannot read, saying what to write", () => {
    assert.deepEqual(["90m", "12h", "30d", "1w", "1.5h", "500ms", "0s"].map((a) => parseAge(a)), [5_400_000, 43_200_000, 2_592_000_000, 604_800_000, 5_400_000, 500, 0]);
    assert.throws(() => parseAge("30"), PurgeOptionsError);
    assert.throws(() => parseAge("-1d"), /must be an age such as 30d, 12h, 90m or 1w, not "-1d"/);
    assert.deepEqual(parseStatuses("completed, CANCELLED"), ["COMPLETED", "CANCELLED"]);
    assert.throws(() => parseStatuses("RUNNING"), /takes final statuses .* not "RUNNING"/);
    assert.throws(() => parseStatuses(" , "), /needs at least one of COMPLETED, FAILED, CANCELLED/);
  });
});
