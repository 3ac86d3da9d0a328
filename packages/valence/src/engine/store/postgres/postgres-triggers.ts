/**
 * The Postgres driver's TriggerStore (../triggers.ts). Each call is one statement (a fire's
 * claim and the trigger's last-fire update are one statement too), so each is atomic without
 * a transaction of its own, and two servers of a team claiming the same tick take turns on
 * the fire's primary key: one inserts it, the other finds it there.
 *
 * Writes are tried again when the connection fails, so each is safe to apply twice: one whose
 * commit landed but whose answer was lost finds its own work done. A trigger's id is random,
 * so a conflicting insert is the same insert; a claim that finds its key taken by its own
 * dispatch id is its own claim, not another server's.
 */
import type { QueryResultRow } from "pg";
import type { DispatchId, TriggerId } from "../../../ids.js";
import type { TriggerFireRecord, TriggerRecord, TriggerStore } from "../triggers.js";

/** Runs one statement: reads on the read pool (tried again while the database is away), writes on the write pool. */
export type TriggerQuery = <R extends QueryResultRow>(doing: "read" | "write", text: string, values: unknown[]) => Promise<{ rows: R[]; rowCount: number | null }>;

const TRIGGER_COLUMNS = `id, lattice_name AS "latticeName", lattice_id AS "latticeId", kind, spec, every_ms AS "everyMs", timezone, template,
  bundle_hash AS "bundleHash", with_arg AS "withArg", paused, created_at AS "createdAt", armed_at AS "armedAt", last_fire_at AS "lastFireAt", last_tick AS "lastTick"`;
const FIRE_COLUMNS = `trigger_id AS "triggerId", fire_key AS key, dispatch_id AS "dispatchId", arg, at, tick, stored`;

export class PostgresTriggers implements TriggerStore {
  constructor(private readonly q: TriggerQuery) {}

  async insert(t: TriggerRecord): Promise<void> {
    await this.q(
      "write",
      `INSERT INTO triggers (id, lattice_name, lattice_id, kind, spec, every_ms, timezone, template, bundle_hash, with_arg, paused, created_at, armed_at,
        last_fire_at, last_tick) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (id) DO NOTHING`,
      [t.id, t.latticeName, t.latticeId, t.kind, t.spec, t.everyMs, t.timezone, t.template, t.bundleHash, t.withArg, t.paused, t.createdAt, t.armedAt, t.lastFireAt, t.lastTick],
    );
  }

  async get(id: string): Promise<TriggerRecord | undefined> {
    return (await this.q<TriggerRecord>("read", `SELECT ${TRIGGER_COLUMNS} FROM triggers WHERE id = $1`, [id])).rows[0];
  }

  async list(): Promise<TriggerRecord[]> {
    return (await this.q<TriggerRecord>("read", `SELECT ${TRIGGER_COLUMNS} FROM triggers ORDER BY created_at, id`, [])).rows;
  }

  async setPaused(id: TriggerId, paused: boolean, at: number): Promise<void> {
    if (paused) await this.q("write", `UPDATE triggers SET paused = true WHERE id = $1`, [id]);
    else await this.q("write", `UPDATE triggers SET paused = false, armed_at = $1 WHERE id = $2`, [at, id]);
  }

  async remove(id: TriggerId): Promise<boolean> {
    const r = await this.q("write", `WITH f AS (DELETE FROM trigger_fires WHERE trigger_id = $1) DELETE FROM triggers WHERE id = $1`, [id]);
    return (r.rowCount ?? 0) > 0;
  }

  async claimFire(f: Omit<TriggerFireRecord, "stored">): Promise<boolean> {
    const r = await this.q(
      "write",
      `WITH f AS (
         INSERT INTO trigger_fires (trigger_id, fire_key, dispatch_id, arg, at, tick)
         SELECT id, $2, $3, $4, $5, $6 FROM triggers WHERE id = $1 AND NOT paused
         ON CONFLICT DO NOTHING RETURNING trigger_id),
       u AS (UPDATE triggers SET last_fire_at = $5, last_tick = COALESCE($6, last_tick) WHERE id IN (SELECT trigger_id FROM f) RETURNING id)
       SELECT id FROM u
       -- The statement's snapshot: a row there already with this dispatch id is this claim's, committed by an earlier try.
       UNION ALL SELECT trigger_id FROM trigger_fires WHERE trigger_id = $1 AND fire_key = $2 AND dispatch_id = $3`,
      [f.triggerId, f.key, f.dispatchId, f.arg, f.at, f.tick],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async fireStored(triggerId: TriggerId, key: string): Promise<void> {
    await this.q("write", `UPDATE trigger_fires SET stored = true WHERE trigger_id = $1 AND fire_key = $2`, [triggerId, key]);
  }

  async unstoredFires(): Promise<TriggerFireRecord[]> {
    return (await this.q<TriggerFireRecord>("read", `SELECT ${FIRE_COLUMNS} FROM trigger_fires WHERE NOT stored ORDER BY at`, [])).rows;
  }

  async fireOf(dispatchId: DispatchId): Promise<TriggerFireRecord | undefined> {
    return (await this.q<TriggerFireRecord>("read", `SELECT ${FIRE_COLUMNS} FROM trigger_fires WHERE dispatch_id = $1`, [dispatchId])).rows[0];
  }

  async fires(triggerId: TriggerId, limit: number): Promise<TriggerFireRecord[]> {
    return (await this.q<TriggerFireRecord>("read", `SELECT ${FIRE_COLUMNS} FROM trigger_fires WHERE trigger_id = $1 ORDER BY at DESC, fire_key DESC LIMIT $2`, [triggerId, limit]))
      .rows;
  }
}
