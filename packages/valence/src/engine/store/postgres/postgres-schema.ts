/**
 * The Postgres store's schema, as an ordered list of migrations. The one row
 * of `valence_schema` records how many have run. Opening applies what is
 * missing in one transaction that holds an advisory lock, so two servers
 * opening one database at once take turns: the second finds the work done.
 * A database written by a newer Valence is refused rather than guessed at.
 *
 * The tables mirror the SQLite driver's (../migrations.ts, version 5): a
 * dispatch's graph is written once as two encoded values (`graphs`), and only
 * nodes whose state has moved on get a `node_states` row. Times are JS
 * milliseconds in int8 columns. Logs are bytea: a task's output may hold a
 * NUL, which Postgres text cannot. Outputs over LARGE_VALUE_BYTES live in
 * `large_values` (the node row names them), not in a file: several servers
 * share the database, not a disk.
 *
 * A migration, once released, is never edited: a change is a new one appended.
 */
import type { PoolClient } from "pg";
import { StoreVersionError } from "../../../errors.js";

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE dispatches (
    id text PRIMARY KEY,
    parent_id text,
    parent_node integer,
    name text NOT NULL,
    lattice_id text,
    status text NOT NULL,
    output text,
    error text,
    created_at int8 NOT NULL,
    started_at int8,
    ended_at int8,
    results_dir text NOT NULL,
    bundle_path text,
    entry_file text,
    cwd text NOT NULL,
    owner_pid integer,
    owner_host text,
    owner_lock text,
    node_count integer NOT NULL,
    nodes_done integer NOT NULL DEFAULT 0
  );
  CREATE INDEX dispatches_top ON dispatches (created_at DESC, id DESC) WHERE parent_id IS NULL;
  CREATE INDEX dispatches_children ON dispatches (parent_id) WHERE parent_id IS NOT NULL;
  CREATE INDEX dispatches_unfinished ON dispatches (created_at) WHERE status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED');

  CREATE TABLE graphs (
    key integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dispatch_id text NOT NULL UNIQUE REFERENCES dispatches (id),
    inputs text NOT NULL,
    output_template text NOT NULL,
    nodes text NOT NULL,
    edges text NOT NULL
  );

  CREATE TABLE node_states (
    dispatch integer NOT NULL REFERENCES graphs (key),
    node_id integer NOT NULL,
    status text NOT NULL,
    output text,
    output_file text,
    stdout bytea,
    stderr bytea,
    error text,
    attempts integer,
    started_at int8,
    ended_at int8,
    PRIMARY KEY (dispatch, node_id)
  );

  CREATE TABLE large_values (
    id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dispatch integer NOT NULL REFERENCES graphs (key),
    node_id integer NOT NULL,
    value text NOT NULL,
    UNIQUE (dispatch, node_id)
  );

  CREATE TABLE events (
    id bigserial PRIMARY KEY,
    dispatch_id text NOT NULL REFERENCES dispatches (id),
    node_id integer,
    at int8 NOT NULL,
    kind text NOT NULL,
    detail text,
    cause integer
  );
  CREATE INDEX events_dispatch ON events (dispatch_id, id);

  CREATE TABLE sources (
    dispatch_id text NOT NULL REFERENCES dispatches (id),
    electron_id text NOT NULL,
    source text NOT NULL,
    PRIMARY KEY (dispatch_id, electron_id)
  );
  `,
  // 2: several servers on one database (postgres-cluster.ts). A server's lease is its row, live
  // while `expires_at` (the database's clock, in ms) is ahead; a dispatch names the server that
  // drives it. NULL: no server does (an embedded run), and it is never taken over. No foreign
  // key: a server's row goes when it leaves, and its dispatches keep naming it until another claims them.
  `
  CREATE TABLE servers (
    id text PRIMARY KEY,
    url text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    data_dir text NOT NULL,
    started_at int8 NOT NULL,
    expires_at int8 NOT NULL
  );
  ALTER TABLE dispatches ADD COLUMN server_id text;
  -- What claimOrphans looks through: unfinished top-level dispatches some server drives.
  CREATE INDEX dispatches_by_server ON dispatches (server_id)
    WHERE server_id IS NOT NULL AND parent_id IS NULL AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED');
  `,
  // 3: each write's id, inserted first in the write's own transaction (postgres-store.ts). A write
  // tried again after its connection dropped, perhaps during its COMMIT, finds here whether an
  // earlier try committed, so it is applied exactly once. Ids older than any retry can be are
  // deleted from time to time (by age, hence the index).
  `
  CREATE TABLE write_ids (
    id uuid PRIMARY KEY,
    written_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX write_ids_age ON write_ids (written_at);
  `,
  // 4: dispatches' code bundles, kept for every server of a team (postgres-cluster.ts): the server
  // that takes a dispatch over may be on another machine than the one that received its bundle.
  // Content-addressed by sha256 (hex) and never changed once put. A bundle is kept as parts of at
  // most BUNDLE_PART_BYTES (a statement never carries a whole bundle of many MB); its `bundles`
  // row is written in the same transaction as its parts, so a bundle that is listed is whole.
  `
  CREATE TABLE bundles (
    hash text PRIMARY KEY,
    size int8 NOT NULL,
    parts integer NOT NULL,
    stored_at int8 NOT NULL
  );
  CREATE TABLE bundle_parts (
    hash text NOT NULL REFERENCES bundles (hash),
    part integer NOT NULL,
    bytes bytea NOT NULL,
    PRIMARY KEY (hash, part)
  );
  `,
  // 5: where each node ran (a local worker, an SSH host, a Dask worker, a Slurm job): the
  // dashboard's timeline draws a row per lane. Older rows have none (NULL).
  `
  ALTER TABLE node_states ADD COLUMN lane text;
  `,
  // 6: running nodes' output in chunks, written while they run (engine/run/live-output.ts) and
  // removed when the node's end stores its whole output. bytea, as the logs: a NUL survives.
  `
  CREATE TABLE live_output (
    id bigserial PRIMARY KEY,
    dispatch_id text NOT NULL REFERENCES dispatches (id),
    node_id integer NOT NULL,
    stream text NOT NULL,
    text bytea NOT NULL,
    at int8 NOT NULL
  );
  CREATE INDEX live_output_node ON live_output (dispatch_id, node_id, id);
  `,
  // 7: a node whose failed try waits out its retry backoff keeps the due time of the next try,
  // so a dispatcher that restarts keeps the schedule (engine/scheduler/backoff.ts).
  `
  ALTER TABLE node_states ADD COLUMN retry_at int8;
  `,
  // 8: the result cache across dispatches (engine/run/result-cache.ts): an entry names the node
  // whose output it reuses; a node that reused one names where its output was made.
  `
  CREATE TABLE result_cache (
    key text PRIMARY KEY,
    electron text NOT NULL,
    dispatch_id text NOT NULL REFERENCES dispatches (id),
    node_id integer NOT NULL,
    created_at int8 NOT NULL,
    expires_at int8,
    hits integer NOT NULL DEFAULT 0,
    last_hit_at int8
  );
  CREATE INDEX result_cache_dispatch ON result_cache (dispatch_id);
  ALTER TABLE node_states ADD COLUMN cached_from text;
  `,
  // 9: triggers a server keeps and each of their fires, keyed by what fired (a tick, a file
  // version): a key claimed once is never fired again, by this server or another of its team
  // (../triggers.ts). A fire names its dispatch but does not own it (no foreign key).
  `
  CREATE TABLE triggers (
    id text PRIMARY KEY,
    lattice_name text NOT NULL,
    lattice_id text NOT NULL,
    kind text NOT NULL,
    spec text NOT NULL,
    every_ms int8,
    timezone text,
    template text NOT NULL,
    bundle_hash text NOT NULL,
    with_arg boolean NOT NULL,
    paused boolean NOT NULL DEFAULT false,
    created_at int8 NOT NULL,
    armed_at int8 NOT NULL,
    last_fire_at int8,
    last_tick int8
  );
  CREATE TABLE trigger_fires (
    trigger_id text NOT NULL,
    fire_key text NOT NULL,
    dispatch_id text NOT NULL,
    arg text NOT NULL,
    at int8 NOT NULL,
    tick int8,
    stored boolean NOT NULL DEFAULT false,
    PRIMARY KEY (trigger_id, fire_key)
  );
  CREATE INDEX trigger_fires_newest ON trigger_fires (trigger_id, at DESC);
  CREATE INDEX trigger_fires_dispatch ON trigger_fires (dispatch_id);
  CREATE INDEX trigger_fires_unstored ON trigger_fires (stored) WHERE NOT stored;
  `,
];

export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** The advisory lock opening holds while it migrates: any fixed number, the same in every Valence ("vale" in ASCII). */
const MIGRATION_LOCK = 0x76616c65;

/**
 * Brings the database up to the current schema, on `client` (tests pass `upTo` to make an
 * older one). `where` names the database in the error for one that is newer than this code.
 */
export async function migratePostgres(client: PoolClient, where: string, upTo = PG_SCHEMA_VERSION): Promise<void> {
  await client.query("BEGIN");
  try {
    // Held to the end of the transaction: a second server opening at this moment waits here, then finds the version current.
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS valence_schema (
         one boolean PRIMARY KEY DEFAULT true CHECK (one),
         version integer NOT NULL
       )`,
    );
    await client.query("INSERT INTO valence_schema (version) VALUES (0) ON CONFLICT DO NOTHING");
    const version = (await client.query<{ version: number }>("SELECT version FROM valence_schema")).rows[0]?.version ?? 0;
    if (version > PG_SCHEMA_VERSION) {
      throw new StoreVersionError(
        `the Postgres store ${where} has schema version ${version}, newer than this Valence understands (${PG_SCHEMA_VERSION}): ` +
          `upgrade Valence, or point VALENCE_STORE at another database`,
      );
    }
    for (let v = version; v < upTo; v++) await client.query(MIGRATIONS[v] as string);
    if (upTo > version) await client.query("UPDATE valence_schema SET version = $1", [upTo]);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
