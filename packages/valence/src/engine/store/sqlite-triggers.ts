/** The SQLite driver's TriggerStore (triggers.ts): two small tables, each call its own transaction. */
import type Database from "better-sqlite3";
import type { DispatchId, TriggerId } from "../../ids.js";
import type { TriggerFireRecord, TriggerRecord, TriggerStore } from "./triggers.js";

const TRIGGER_COLUMNS = `id, lattice_name AS latticeName, lattice_id AS latticeId, kind, spec, every_ms AS everyMs, timezone, template,
  bundle_hash AS bundleHash, with_arg AS withArg, paused, created_at AS createdAt, armed_at AS armedAt, last_fire_at AS lastFireAt, last_tick AS lastTick`;
const FIRE_COLUMNS = `trigger_id AS triggerId, fire_key AS key, dispatch_id AS dispatchId, arg, at, tick, stored`;

type Row<T> = { [K in keyof T]: T[K] extends boolean ? number : T[K] };

const trigger = (r: Row<TriggerRecord>): TriggerRecord => ({ ...r, withArg: r.withArg === 1, paused: r.paused === 1 });
const fire = (r: Row<TriggerFireRecord>): TriggerFireRecord => ({ ...r, stored: r.stored === 1 });

export class SqliteTriggers implements TriggerStore {
  private readonly s;

  constructor(
    db: Database.Database,
    /** Runs one transaction on the store's connection, in its turn (SqliteStore.alone). */
    private readonly tx: <T>(fn: () => T) => Promise<T>,
  ) {
    this.s = {
      insert: db.prepare(`INSERT INTO triggers (id, lattice_name, lattice_id, kind, spec, every_ms, timezone, template, bundle_hash, with_arg, paused,
        created_at, armed_at, last_fire_at, last_tick) VALUES (@id, @latticeName, @latticeId, @kind, @spec, @everyMs, @timezone, @template, @bundleHash,
        @withArg, @paused, @createdAt, @armedAt, @lastFireAt, @lastTick)`),
      get: db.prepare(`SELECT ${TRIGGER_COLUMNS} FROM triggers WHERE id = ?`),
      list: db.prepare(`SELECT ${TRIGGER_COLUMNS} FROM triggers ORDER BY created_at, id`),
      pause: db.prepare(`UPDATE triggers SET paused = 1 WHERE id = ?`),
      resume: db.prepare(`UPDATE triggers SET paused = 0, armed_at = ? WHERE id = ?`),
      remove: db.prepare(`DELETE FROM triggers WHERE id = ?`),
      removeFires: db.prepare(`DELETE FROM trigger_fires WHERE trigger_id = ?`),
      // Only for a trigger that exists and is not paused: a fire racing a pause or a removal (here, or on another server) loses.
      claim: db.prepare(`INSERT INTO trigger_fires (trigger_id, fire_key, dispatch_id, arg, at, tick)
        SELECT id, ?, ?, ?, ?, ? FROM triggers WHERE id = ? AND paused = 0 ON CONFLICT DO NOTHING`),
      fired: db.prepare(`UPDATE triggers SET last_fire_at = ?, last_tick = COALESCE(?, last_tick) WHERE id = ?`),
      stored: db.prepare(`UPDATE trigger_fires SET stored = 1 WHERE trigger_id = ? AND fire_key = ?`),
      unstored: db.prepare(`SELECT ${FIRE_COLUMNS} FROM trigger_fires WHERE stored = 0 ORDER BY at`),
      fireOf: db.prepare(`SELECT ${FIRE_COLUMNS} FROM trigger_fires WHERE dispatch_id = ?`),
      fires: db.prepare(`SELECT ${FIRE_COLUMNS} FROM trigger_fires WHERE trigger_id = ? ORDER BY at DESC, fire_key DESC LIMIT ?`),
    };
  }

  async insert(t: TriggerRecord): Promise<void> {
    await this.tx(() => this.s.insert.run({ ...t, withArg: t.withArg ? 1 : 0, paused: t.paused ? 1 : 0 }));
  }

  async get(id: string): Promise<TriggerRecord | undefined> {
    const r = this.s.get.get(id) as Row<TriggerRecord> | undefined;
    return r && trigger(r);
  }

  async list(): Promise<TriggerRecord[]> {
    return (this.s.list.all() as Row<TriggerRecord>[]).map(trigger);
  }

  async setPaused(id: TriggerId, paused: boolean, at: number): Promise<void> {
    await this.tx(() => (paused ? this.s.pause.run(id) : this.s.resume.run(at, id)));
  }

  async remove(id: TriggerId): Promise<boolean> {
    return this.tx(() => {
      this.s.removeFires.run(id);
      return this.s.remove.run(id).changes > 0;
    });
  }

  async claimFire(f: Omit<TriggerFireRecord, "stored">): Promise<boolean> {
    return this.tx(() => {
      if (this.s.claim.run(f.key, f.dispatchId, f.arg, f.at, f.tick, f.triggerId).changes === 0) return false;
      this.s.fired.run(f.at, f.tick, f.triggerId);
      return true;
    });
  }

  async fireStored(triggerId: TriggerId, key: string): Promise<void> {
    await this.tx(() => this.s.stored.run(triggerId, key));
  }

  async unstoredFires(): Promise<TriggerFireRecord[]> {
    return (this.s.unstored.all() as Row<TriggerFireRecord>[]).map(fire);
  }

  async fireOf(dispatchId: DispatchId): Promise<TriggerFireRecord | undefined> {
    const r = this.s.fireOf.get(dispatchId) as Row<TriggerFireRecord> | undefined;
    return r && fire(r);
  }

  async fires(triggerId: TriggerId, limit: number): Promise<TriggerFireRecord[]> {
    return (this.s.fires.all(triggerId, limit) as Row<TriggerFireRecord>[]).map(fire);
  }
}
