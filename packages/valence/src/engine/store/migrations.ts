/**
 * The store's schema, as an ordered list of migrations. `PRAGMA user_version`
 * records how many have run; a file from a newer Valence is refused rather
 * than guessed at.
 */
import type Database from "better-sqlite3";
import { StoreVersionError } from "../../errors.js";
import { graphsFromNodeRows } from "./migrate-graphs.js";

/** SQL, or a function for a step that has to reshape data in JavaScript; each runs in one transaction. */
type Migration = string | ((db: Database.Database) => void);

const MIGRATIONS: readonly Migration[] = [
  `
  CREATE TABLE dispatches (
    id TEXT PRIMARY KEY,
    parent_id TEXT,
    parent_node INTEGER,
    name TEXT NOT NULL,
    lattice_id TEXT,
    status TEXT NOT NULL,
    inputs TEXT NOT NULL,
    output TEXT,
    output_template TEXT NOT NULL,
    error TEXT,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    ended_at INTEGER,
    results_dir TEXT NOT NULL,
    bundle_path TEXT,
    entry_file TEXT,
    cwd TEXT NOT NULL,
    owner_pid INTEGER,
    owner_host TEXT,
    node_count INTEGER NOT NULL,
    nodes_done INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX dispatches_created ON dispatches (created_at DESC);
  CREATE TABLE nodes (
    dispatch_id TEXT NOT NULL,
    node_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    electron_id TEXT,
    status TEXT NOT NULL,
    executor TEXT,
    retries INTEGER NOT NULL DEFAULT 0,
    timeout_ms REAL,
    key TEXT,
    holes TEXT,
    value TEXT,
    output TEXT,
    output_file TEXT,
    stdout TEXT,
    stderr TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at INTEGER,
    ended_at INTEGER,
    PRIMARY KEY (dispatch_id, node_id)
  ) WITHOUT ROWID;
  CREATE TABLE edges (
    dispatch_id TEXT NOT NULL,
    source INTEGER NOT NULL,
    target INTEGER NOT NULL,
    param TEXT NOT NULL
  );
  CREATE INDEX edges_dispatch ON edges (dispatch_id);
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    dispatch_id TEXT NOT NULL,
    node_id INTEGER,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT,
    cause INTEGER
  );
  CREATE INDEX events_dispatch ON events (dispatch_id, id);
  `,
  // 2: a node may run from a bundle of its own (an electron replaced at redispatch).
  `
  ALTER TABLE nodes ADD COLUMN bundle_path TEXT;
  `,
  // 3: each electron's source text, once per dispatch (the dashboard shows it).
  `
  CREATE TABLE sources (
    dispatch_id TEXT NOT NULL,
    electron_id TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (dispatch_id, electron_id)
  ) WITHOUT ROWID;
  `,
  // 4: a dispatch's graph is written once, as one value (`graphs`), and only the nodes whose
  // state moved on get a row (`node_states`, keyed by the dispatch's integer key rather than its
  // text id). A wide dispatch then costs two values and one narrow row per finished node,
  // instead of a wide row per node and per edge plus an UPDATE of every node. The dispatch's
  // inputs and output template move to `graphs` too: every status update rewrote them.
  (db) => {
    db.exec(`
      CREATE TABLE graphs (
        key INTEGER PRIMARY KEY,
        dispatch_id TEXT NOT NULL UNIQUE,
        inputs TEXT NOT NULL,
        output_template TEXT NOT NULL,
        nodes TEXT NOT NULL,
        edges TEXT NOT NULL
      );
      CREATE TABLE node_states (
        dispatch INTEGER NOT NULL,
        node_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        output TEXT,
        output_file TEXT,
        stdout TEXT,
        stderr TEXT,
        error TEXT,
        attempts INTEGER,
        started_at INTEGER,
        ended_at INTEGER,
        PRIMARY KEY (dispatch, node_id)
      ) WITHOUT ROWID;
    `);
    graphsFromNodeRows(db);
    db.exec(`
      DROP TABLE nodes;
      DROP TABLE edges;
      ALTER TABLE dispatches DROP COLUMN inputs;
      ALTER TABLE dispatches DROP COLUMN output_template;
    `);
  },
  // 5: a dispatch names the lock its owner holds (locks/owner-TOKEN.lock): liveness from the
  // kernel, not from a pid that may be a zombie or reused.
  `
  ALTER TABLE dispatches ADD COLUMN owner_lock TEXT;
  `,
  // 6: where each node ran (a local worker, an SSH host, a Dask worker, a Slurm job): the
  // dashboard's timeline draws a row per lane. Older rows have none (NULL).
  `
  ALTER TABLE node_states ADD COLUMN lane TEXT;
  `,
  // 7: running nodes' output in chunks, written while they run (engine/run/live-output.ts) and
  // removed when the node's end stores its whole output.
  `
  CREATE TABLE live_output (
    -- AUTOINCREMENT: ids are never reused once chunks are deleted, so a reader's "after" stays right.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dispatch_id TEXT NOT NULL,
    node_id INTEGER NOT NULL,
    stream TEXT NOT NULL,
    text TEXT NOT NULL,
    at INTEGER NOT NULL
  );
  CREATE INDEX live_output_node ON live_output (dispatch_id, node_id, id);
  `,
  // 8: a node whose failed try waits out its retry backoff keeps the due time of the next try,
  // so a dispatcher that restarts keeps the schedule (engine/scheduler/backoff.ts).
  `
  ALTER TABLE node_states ADD COLUMN retry_at INTEGER;
  `,
  // 9: the result cache across dispatches (engine/run/result-cache.ts): an entry names the node
  // whose output it reuses; a node that reused one names where its output was made.
  `
  CREATE TABLE result_cache (
    key TEXT PRIMARY KEY,
    electron TEXT NOT NULL,
    dispatch_id TEXT NOT NULL,
    node_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    hits INTEGER NOT NULL DEFAULT 0,
    last_hit_at INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX result_cache_dispatch ON result_cache (dispatch_id);
  ALTER TABLE node_states ADD COLUMN cached_from TEXT;
  `,
  // 10: triggers a server keeps (a directory watch, an interval, a cron schedule) and each of
  // their fires, keyed by what fired (a tick, a file version) so that nothing fires twice
  // (store/triggers.ts). A fire names its dispatch but does not own it: removing a trigger
  // keeps the dispatches it made, and purging a dispatch keeps the fire (the tick stays done).
  `
  CREATE TABLE triggers (
    id TEXT PRIMARY KEY,
    lattice_name TEXT NOT NULL,
    lattice_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    every_ms INTEGER,
    timezone TEXT,
    template TEXT NOT NULL,
    bundle_hash TEXT NOT NULL,
    with_arg INTEGER NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    armed_at INTEGER NOT NULL,
    last_fire_at INTEGER,
    last_tick INTEGER
  );
  CREATE TABLE trigger_fires (
    trigger_id TEXT NOT NULL,
    fire_key TEXT NOT NULL,
    dispatch_id TEXT NOT NULL,
    arg TEXT NOT NULL,
    at INTEGER NOT NULL,
    tick INTEGER,
    stored INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (trigger_id, fire_key)
  ) WITHOUT ROWID;
  CREATE INDEX trigger_fires_newest ON trigger_fires (trigger_id, at DESC);
  CREATE INDEX trigger_fires_dispatch ON trigger_fires (dispatch_id);
  CREATE INDEX trigger_fires_unstored ON trigger_fires (stored) WHERE stored = 0;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the store up to the current schema (tests pass `upTo` to make an older store). */
export function migrate(db: Database.Database, file: string, upTo = SCHEMA_VERSION): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new StoreVersionError(
      `the store ${file} has schema version ${version}, newer than this Valence understands (${SCHEMA_VERSION}): ` +
        `upgrade Valence, or point VALENCE_DATA_DIR at another directory`,
    );
  }
  for (let v = version; v < upTo; v++) {
    // IMMEDIATE, and the version read again inside: another process opening the same old
    // store at the same moment waits for this step, then finds it done, instead of repeating it.
    db.transaction(() => {
      if ((db.pragma("user_version", { simple: true }) as number) !== v) return;
      const m = MIGRATIONS[v] as Migration;
      if (typeof m === "string") db.exec(m);
      else m(db);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
