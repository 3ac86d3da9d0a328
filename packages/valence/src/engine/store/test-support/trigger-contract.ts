/**
 * The trigger part of the store contract (../triggers.ts), run by `storeContract` on every
 * driver: a trigger reads back as stored, pauses and resumes, and a fire's key is claimed once.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { newDispatchId, newTriggerId, type TriggerId } from "../../../ids.js";
import type { Store } from "../store.js";
import type { TriggerRecord } from "../triggers.js";

export function triggerRecord(id: TriggerId, over: Partial<TriggerRecord> = {}): TriggerRecord {
  return {
    id, latticeName: "wf", latticeId: "wf.ts:1", kind: "every", spec: "30s", everyMs: 30_000, timezone: null, template: '{"name":"wf"}',
    bundleHash: "a".repeat(64), withArg: true, paused: false, createdAt: 1000, armedAt: 1000, lastFireAt: null, lastTick: null, ...over,
  };
}

export function triggerContract(driver: string, open: (dataDir: string) => Store | Promise<Store>): void {
  const dirs: string[] = [];
  const stores: Store[] = [];
  after(async () => {
    for (const s of stores) await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  async function fresh(): Promise<Store> {
    const dir = mkdtempSync(join(tmpdir(), `valence-triggers-${driver}-`));
    dirs.push(dir);
    const store = await open(dir);
    stores.push(store);
    return store;
  }

  describe(`store contract: ${driver}: triggers`, () => {
    it("stores triggers and reads them back as stored, oldest first", async () => {
      const store = await fresh();
      const a = triggerRecord(newTriggerId(), { kind: "cron", spec: "*/5 * * * *", everyMs: null, timezone: "Europe/Paris", createdAt: 2000, armedAt: 2000 });
      const b = triggerRecord(newTriggerId(), { kind: "watch", spec: "/tmp/in", everyMs: null, withArg: false, createdAt: 1000 });
      await store.triggers.insert(a);
      await store.triggers.insert(b);
      assert.deepEqual(await store.triggers.get(a.id), a);
      assert.deepEqual(await store.triggers.list(), [b, a]);
      assert.equal(await store.triggers.get(newTriggerId()), undefined);
    });

    it("pauses, and resumes re-armed from the given time", async () => {
      const store = await fresh();
      const t = triggerRecord(newTriggerId());
      await store.triggers.insert(t);
      await store.triggers.setPaused(t.id, true, 5000);
      assert.deepEqual(await store.triggers.get(t.id), { ...t, paused: true });
      await store.triggers.setPaused(t.id, false, 7000);
      assert.deepEqual(await store.triggers.get(t.id), { ...t, paused: false, armedAt: 7000 });
    });

    it("claims a fire's key once, with the trigger's last fire and tick, and lists fires newest first", async () => {
      const store = await fresh();
      const t = triggerRecord(newTriggerId());
      await store.triggers.insert(t);
      const first = { triggerId: t.id, key: "1970-01-01T00:00:31.000Z", dispatchId: newDispatchId(), arg: '"x"', at: 31_500, tick: 31_000 };
      assert.equal(await store.triggers.claimFire(first), true);
      assert.equal(await store.triggers.claimFire({ ...first, dispatchId: newDispatchId(), at: 32_000 }), false, "a key is claimed once");
      assert.deepEqual(await store.triggers.get(t.id), { ...t, lastFireAt: 31_500, lastTick: 31_000 });
      const watchFire = { triggerId: t.id, key: "5:/tmp/in/a", dispatchId: newDispatchId(), arg: '"/tmp/in/a"', at: 40_000, tick: null };
      assert.equal(await store.triggers.claimFire(watchFire), true);
      assert.equal((await store.triggers.get(t.id))?.lastTick, 31_000, "a fire without a tick keeps the last tick");
      assert.deepEqual(await store.triggers.fires(t.id, 10), [{ ...watchFire, stored: false }, { ...first, stored: false }]);
      assert.deepEqual(await store.triggers.fires(t.id, 1), [{ ...watchFire, stored: false }]);
      assert.deepEqual(await store.triggers.fireOf(first.dispatchId), { ...first, stored: false }, "a dispatch's fire, found by the dispatch");
      assert.equal(await store.triggers.fireOf(newDispatchId()), undefined);
    });

    it("refuses a fire of a paused or removed trigger, and of one never stored", async () => {
      const store = await fresh();
      const t = triggerRecord(newTriggerId());
      await store.triggers.insert(t);
      const fire = (key: string, triggerId = t.id) => store.triggers.claimFire({ triggerId, key, dispatchId: newDispatchId(), arg: "", at: 5, tick: 5 });
      await store.triggers.setPaused(t.id, true, 4);
      assert.equal(await fire("a"), false, "a paused trigger fired");
      assert.deepEqual(await store.triggers.fires(t.id, 5), []);
      assert.equal((await store.triggers.get(t.id))?.lastFireAt, null);
      await store.triggers.setPaused(t.id, false, 6);
      assert.equal(await fire("a"), true, "the fire refused while paused is not taken as done");
      await store.triggers.remove(t.id);
      assert.equal(await fire("b"), false, "a removed trigger fired");
      assert.equal(await fire("c", newTriggerId()), false, "a trigger that was never stored fired");
      assert.deepEqual(await store.triggers.unstoredFires(), []);
    });

    it("lists fires whose dispatch is not stored yet, until marked stored", async () => {
      const store = await fresh();
      const t = triggerRecord(newTriggerId());
      await store.triggers.insert(t);
      const f = { triggerId: t.id, key: "k", dispatchId: newDispatchId(), arg: "", at: 1, tick: null };
      await store.triggers.claimFire(f);
      assert.deepEqual(await store.triggers.unstoredFires(), [{ ...f, stored: false }]);
      await store.triggers.fireStored(t.id, "k");
      assert.deepEqual(await store.triggers.unstoredFires(), []);
      assert.deepEqual(await store.triggers.fires(t.id, 5), [{ ...f, stored: true }]);
    });

    it("removes a trigger with its fires, and says whether there was one", async () => {
      const store = await fresh();
      const t = triggerRecord(newTriggerId());
      const other = triggerRecord(newTriggerId());
      await store.triggers.insert(t);
      await store.triggers.insert(other);
      await store.triggers.claimFire({ triggerId: t.id, key: "k", dispatchId: newDispatchId(), arg: "", at: 1, tick: null });
      await store.triggers.claimFire({ triggerId: other.id, key: "k", dispatchId: newDispatchId(), arg: "", at: 1, tick: null });
      assert.equal(await store.triggers.remove(t.id), true);
      assert.equal(await store.triggers.remove(t.id), false);
      assert.equal(await store.triggers.get(t.id), undefined);
      assert.deepEqual(await store.triggers.fires(t.id, 5), []);
      assert.equal((await store.triggers.fires(other.id, 5)).length, 1, "another trigger's fires stay");
    });
  });
}
