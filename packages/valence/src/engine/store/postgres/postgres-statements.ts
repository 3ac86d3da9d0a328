/**
 * The Postgres driver's SQL, and the column lists that make rows come out in
 * the records' shape (quoted aliases: Postgres folds unquoted ones to lower case).
 * Statements with a `name` are prepared once per connection by `pg`.
 */

/** `t.a_b AS "aB", …` */
function aliased(columns: string, table?: string): string {
  return columns
    .split(",")
    .map((c) => c.trim())
    .map((c) => `${table ? `${table}.` : ""}${c} AS "${c.replace(/_([a-z])/g, (_, x: string) => x.toUpperCase())}"`)
    .join(", ");
}

/** A dispatch's row with its inputs and output template from its graph, as the SQLite driver reads it. */
const DISPATCH_COLUMNS =
  aliased(
    "id, parent_id, parent_node, name, lattice_id, status, output, error, created_at, started_at, " +
      "ended_at, results_dir, bundle_path, entry_file, cwd, owner_pid, owner_host, owner_lock, node_count, nodes_done",
    "d",
  ) + `, ${aliased("inputs, output_template", "g")}`;
const DISPATCHES = "dispatches d JOIN graphs g ON g.dispatch_id = d.id";
const CACHE_COLUMNS = aliased("key, electron, dispatch_id, node_id, created_at, expires_at, hits, last_hit_at", "c");

/** Every fixed statement, by name. */
export const SQL = {
  // Reads.
  getDispatch: `SELECT ${DISPATCH_COLUMNS} FROM ${DISPATCHES} WHERE d.id = $1`,
  /** Inside a transaction: the row stays locked until it ends, so two owner checks take turns. */
  getDispatchForUpdate: `SELECT ${DISPATCH_COLUMNS} FROM ${DISPATCHES} WHERE d.id = $1 FOR UPDATE OF d`,
  getGraphNodes: `SELECT nodes FROM graphs WHERE dispatch_id = $1`,
  getGraphEdges: `SELECT edges FROM graphs WHERE dispatch_id = $1`,
  getStates: `SELECT ${aliased("node_id, status, output, output_file, stdout, stderr, error, attempts, started_at, ended_at, lane, retry_at, cached_from", "s")}
    FROM node_states s JOIN graphs g ON g.key = s.dispatch WHERE g.dispatch_id = $1`,
  getEvents: `SELECT id, dispatch_id AS "dispatchId", node_id AS "nodeId", at, kind, detail, cause FROM events
    WHERE dispatch_id = $1 AND id > $2 ORDER BY id`,
  list: `SELECT ${DISPATCH_COLUMNS} FROM ${DISPATCHES} WHERE d.parent_id IS NULL ORDER BY d.created_at DESC, d.id DESC LIMIT $1`,
  getSources: `SELECT electron_id AS "electronId", source FROM sources WHERE dispatch_id = $1`,
  children: `SELECT ${DISPATCH_COLUMNS} FROM ${DISPATCHES} WHERE d.parent_id = $1 ORDER BY d.created_at, d.id`,
  unfinished: `SELECT ${DISPATCH_COLUMNS} FROM ${DISPATCHES} WHERE d.status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED') ORDER BY d.created_at, d.id`,
  newest: `SELECT id FROM dispatches WHERE parent_id IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`,
  counts: `SELECT status, COUNT(*) AS n FROM dispatches WHERE parent_id IS NULL GROUP BY status`,
  largeValue: `SELECT value FROM large_values WHERE id = $1`,
  nodeLogs: `SELECT s.status, s.stdout, s.stderr, s.attempts, s.retry_at AS "retryAt" FROM node_states s JOIN graphs g ON g.key = s.dispatch WHERE g.dispatch_id = $1 AND s.node_id = $2`,
  liveOfNode: `SELECT id, node_id AS node, stream, text, at FROM live_output WHERE dispatch_id = $1 AND node_id = $2 AND id > $3 ORDER BY id`,
  liveOfDispatch: `SELECT id, node_id AS node, stream, text, at FROM live_output WHERE dispatch_id = $1 AND id > $2 ORDER BY id`,
  // Only an entry whose node still holds its output (COMPLETED: a node run again since has its new one).
  cacheLookup: `SELECT ${CACHE_COLUMNS}, s.output, s.output_file AS "outputFile" FROM result_cache c
    JOIN graphs g ON g.dispatch_id = c.dispatch_id JOIN node_states s ON s.dispatch = g.key AND s.node_id = c.node_id
    WHERE c.key = $1 AND (c.expires_at IS NULL OR c.expires_at > $2) AND s.status = 'COMPLETED'`,
  cacheEntries: `SELECT ${CACHE_COLUMNS} FROM result_cache c ORDER BY c.created_at DESC, c.key`,
  /** Which of these dispatches the store holds, with their keys in `node_states`. */
  keys: `SELECT dispatch_id AS id, key FROM graphs WHERE dispatch_id = ANY($1::text[])`,

  // Writes.
  insertDispatch: `WITH d AS (
      INSERT INTO dispatches (id, parent_id, parent_node, name, lattice_id, status, created_at, results_dir, bundle_path, entry_file, cwd,
        owner_pid, owner_host, owner_lock, node_count, nodes_done)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id)
    INSERT INTO graphs (dispatch_id, inputs, output_template, nodes, edges) SELECT id, $17, $18, $19, $20 FROM d RETURNING key`,
  // State rows are upserts: a node has none until its first change after submission. Each takes
  // many rows at once as arrays (one statement per scheduler turn, not one per node).
  nodesRunning: `INSERT INTO node_states (dispatch, node_id, status, attempts, started_at)
    SELECT k, n, 'RUNNING', a, s FROM unnest($1::int4[], $2::int4[], $3::int4[], $4::int8[]) AS t (k, n, a, s)
    ON CONFLICT (dispatch, node_id) DO UPDATE SET status = 'RUNNING', attempts = excluded.attempts,
      started_at = COALESCE(node_states.started_at, excluded.started_at), error = NULL, retry_at = NULL`,
  // Rare (a failed try with a backoff): one row a statement.
  nodeRetrying: `INSERT INTO node_states (dispatch, node_id, status, attempts, error, retry_at) VALUES ($1, $2, 'RUNNING', $3, $4, $5)
    ON CONFLICT (dispatch, node_id) DO UPDATE SET status = 'RUNNING', attempts = excluded.attempts, error = excluded.error,
      retry_at = excluded.retry_at`,
  // `attempts` NULL: the RUNNING mark was written, and its attempt stands.
  nodesCompleted: `INSERT INTO node_states (dispatch, node_id, status, output, output_file, stdout, stderr, ended_at, started_at, attempts, lane, cached_from)
    SELECT k, n, 'COMPLETED', o, f, so, se, e, s, a, l, cf
    FROM unnest($1::int4[], $2::int4[], $3::text[], $4::text[], $5::bytea[], $6::bytea[], $7::int8[], $8::int8[], $9::int4[], $10::text[], $11::text[])
      AS t (k, n, o, f, so, se, e, s, a, l, cf)
    ON CONFLICT (dispatch, node_id) DO UPDATE SET status = 'COMPLETED', output = excluded.output, output_file = excluded.output_file,
      stdout = excluded.stdout, stderr = excluded.stderr, error = NULL, ended_at = excluded.ended_at,
      started_at = excluded.started_at, attempts = COALESCE(excluded.attempts, node_states.attempts),
      lane = COALESCE(excluded.lane, node_states.lane), retry_at = NULL, cached_from = excluded.cached_from`,
  cachePut: `INSERT INTO result_cache (key, electron, dispatch_id, node_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (key) DO UPDATE SET electron = excluded.electron, dispatch_id = excluded.dispatch_id, node_id = excluded.node_id,
      created_at = excluded.created_at, expires_at = excluded.expires_at, hits = 0, last_hit_at = NULL`,
  cacheHit: `UPDATE result_cache SET hits = hits + 1, last_hit_at = $1 WHERE key = $2`,
  cacheRemove: `DELETE FROM result_cache WHERE key = ANY($1::text[])`,
  nodesEnded: `INSERT INTO node_states (dispatch, node_id, status, error, stdout, stderr, ended_at, lane)
    SELECT k, n, st, er, so, se, e, l FROM unnest($1::int4[], $2::int4[], $3::text[], $4::text[], $5::bytea[], $6::bytea[], $7::int8[], $8::text[]) AS t (k, n, st, er, so, se, e, l)
    ON CONFLICT (dispatch, node_id) DO UPDATE SET status = excluded.status, error = excluded.error,
      stdout = COALESCE(excluded.stdout, node_states.stdout), stderr = COALESCE(excluded.stderr, node_states.stderr), ended_at = excluded.ended_at,
      lane = COALESCE(excluded.lane, node_states.lane), retry_at = NULL`,
  // For nodes carried over by a redispatch: their status and output are in the graph already.
  nodesRestored: `INSERT INTO node_states (dispatch, node_id, status, stdout, stderr, attempts, started_at, ended_at, lane)
    SELECT * FROM unnest($1::int4[], $2::int4[], $3::text[], $4::bytea[], $5::bytea[], $6::int4[], $7::int8[], $8::int8[], $9::text[])
    ON CONFLICT (dispatch, node_id) DO UPDATE SET stdout = excluded.stdout, stderr = excluded.stderr, attempts = excluded.attempts,
      started_at = excluded.started_at, ended_at = excluded.ended_at, lane = excluded.lane, retry_at = NULL`,
  /** A node's large output; a node completed again replaces its value (and keeps its id). */
  largeValueInsert: `INSERT INTO large_values (dispatch, node_id, value) VALUES ($1, $2, $3)
    ON CONFLICT (dispatch, node_id) DO UPDATE SET value = excluded.value RETURNING id`,
  // Ids in call order: ORDER BY the arrays' ordinality.
  events: `INSERT INTO events (dispatch_id, node_id, at, kind, detail, cause)
    SELECT d, n, a, k, t, c FROM unnest($1::text[], $2::int4[], $3::int8[], $4::text[], $5::text[], $6::int4[]) WITH ORDINALITY AS u (d, n, a, k, t, c, i)
    ORDER BY i`,
  nodesDone: `UPDATE dispatches SET nodes_done = nodes_done + $1 WHERE id = $2`,
  dispatchStatus: `UPDATE dispatches SET status = $1, started_at = COALESCE(started_at, $2), ended_at = $3, output = COALESCE($4, output),
    error = COALESCE($5, error) WHERE id = $6`,
  liveAppend: `INSERT INTO live_output (dispatch_id, node_id, stream, text, at)
    SELECT $1, n, s, t, $5 FROM unnest($2::int4[], $3::text[], $4::bytea[]) AS c (n, s, t)`,
  liveClear: `DELETE FROM live_output WHERE dispatch_id = $1 AND node_id = $2`,
  liveClearAll: `DELETE FROM live_output WHERE dispatch_id = $1`,
  sources: `INSERT INTO sources (dispatch_id, electron_id, source) SELECT $1, e, s FROM unnest($2::text[], $3::text[]) AS t (e, s)
    ON CONFLICT (dispatch_id, electron_id) DO UPDATE SET source = excluded.source`,
  // A dispatch's rows in every table, in one statement: the foreign keys are checked at its end,
  // when the rows that point at each other are all gone.
  deleteDispatch: `WITH g AS (SELECT key FROM graphs WHERE dispatch_id = $1),
      s AS (DELETE FROM node_states WHERE dispatch IN (SELECT key FROM g)),
      v AS (DELETE FROM large_values WHERE dispatch IN (SELECT key FROM g)),
      o AS (DELETE FROM live_output WHERE dispatch_id = $1),
      e AS (DELETE FROM events WHERE dispatch_id = $1),
      c AS (DELETE FROM sources WHERE dispatch_id = $1),
      k AS (DELETE FROM result_cache WHERE dispatch_id = $1),
      r AS (DELETE FROM graphs WHERE dispatch_id = $1)
    DELETE FROM dispatches WHERE id = $1`,
  setOwner: `UPDATE dispatches SET owner_pid = $1, owner_host = $2, owner_lock = $3 WHERE id = $4`,
  /** The ids of writes committed longer ago than $1 ms (by the database's clock): no retry of theirs can come any more. */
  pruneWriteIds: `DELETE FROM write_ids WHERE written_at < now() - $1::int8 * interval '1 millisecond'`,
} as const;

export type StatementName = keyof typeof SQL;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A write's first round trip: BEGIN, and its id claimed in `write_ids` (one simple query of
 * several statements, so the claim costs no round trip of its own; the id is a UUID this
 * process made, checked, so it can be written in the text). The INSERT's row count says
 * whether the id was claimed now (1) or an earlier try of the write committed it (0).
 * `lockWaitMs`, on a retry: an earlier try still open on the server (its connection dropped
 * and the server has not noticed yet) holds the id; the claim waits for it to end at most
 * this long (it then fails with 55P03). `claimResult` says which result is the INSERT's.
 */
export function beginWrite(id: string, lockWaitMs?: number): string {
  if (!UUID.test(id)) throw new Error(`a write id must be a lower-case UUID, not ${JSON.stringify(id)}`);
  const claim = `INSERT INTO write_ids (id) VALUES ('${id}') ON CONFLICT DO NOTHING`;
  if (lockWaitMs === undefined) return `BEGIN; ${claim}`;
  return `BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockWaitMs))}; ${claim}; SET LOCAL lock_timeout TO DEFAULT`;
}

/** Which of beginWrite's results is the claim's: without and with a lock wait. */
export const claimResult = (waits: boolean): number => (waits ? 2 : 1);

/**
 * Now by the database's clock, in JS milliseconds: leases are judged by it, never by a server's
 * own clock, so servers whose clocks disagree still agree on who is alive. `clock_timestamp()`,
 * not `now()`: the moment of the check, not the start of its transaction.
 */
const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::int8";
const UNFINISHED = "status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED')";
const SERVER_COLUMNS = aliased("id, url, host, pid, data_dir, started_at", "s");

/** The cluster's statements (postgres-cluster.ts), on its own pool. */
export const CLUSTER_SQL = {
  clusterJoin: `INSERT INTO servers (id, url, host, pid, data_dir, started_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, ${NOW_MS} + $7::int8)
    ON CONFLICT (id) DO UPDATE SET url = excluded.url, host = excluded.host, pid = excluded.pid, data_dir = excluded.data_dir,
      started_at = excluded.started_at, expires_at = excluded.expires_at`,
  /**
   * Rows of servers whose lease ran out and that no unfinished top-level dispatch names any more
   * (nothing can be claimed from them, so no claim needs their record). A row a claim holds is
   * skipped, not waited for: the next sweep takes it.
   */
  clusterSweep: `DELETE FROM servers WHERE id IN (
      SELECT s.id FROM servers s WHERE s.expires_at <= ${NOW_MS}
        AND NOT EXISTS (SELECT 1 FROM dispatches d WHERE d.server_id = s.id AND d.parent_id IS NULL AND d.${UNFINISHED})
      FOR UPDATE SKIP LOCKED)`,
  /** A heartbeat's first step: the row, locked, so the expiry check after it cannot interleave with a claim's. */
  clusterLockServer: `SELECT 1 FROM servers WHERE id = $1 FOR NO KEY UPDATE`,
  /** Renews a lease that has not run out; a lease that has stays out (0 rows). */
  clusterRenew: `UPDATE servers SET expires_at = ${NOW_MS} + $2::int8 WHERE id = $1 AND expires_at > ${NOW_MS}`,
  clusterLeave: `DELETE FROM servers WHERE id = $1`,
  clusterClaim: `UPDATE dispatches SET server_id = $1 WHERE id = $2`,
  /**
   * A claim's first step: the rows of the other servers whose lease has run out, share-locked in id
   * order until the claim commits. A heartbeat of one of them waits, then finds it out; one that
   * renewed first is not expired any more when the lock is granted (the row is checked again).
   */
  clusterLockExpired: `SELECT id FROM servers WHERE expires_at <= ${NOW_MS} AND id <> $1 ORDER BY id FOR SHARE`,
  /**
   * Up to $3 unfinished top-level dispatches of the servers locked in the first step ($2) or of
   * servers whose row is gone, for server $1 if its own lease is live; each row is taken
   * FOR UPDATE SKIP LOCKED, so a concurrent claim takes others, never the same. With the record
   * of the server that drove each before, when its row is still there.
   */
  clusterClaimOrphans: `WITH taken AS (
      SELECT d.id, d.server_id AS previous, d.created_at FROM dispatches d
      WHERE d.server_id IS NOT NULL AND d.parent_id IS NULL AND d.${UNFINISHED} AND d.server_id <> $1
        AND (d.server_id = ANY($2::text[]) OR NOT EXISTS (SELECT 1 FROM servers g WHERE g.id = d.server_id))
        AND EXISTS (SELECT 1 FROM servers me WHERE me.id = $1 AND me.expires_at > ${NOW_MS})
      ORDER BY d.created_at, d.id LIMIT $3
      FOR UPDATE OF d SKIP LOCKED),
    moved AS (UPDATE dispatches d SET server_id = $1 FROM taken WHERE d.id = taken.id RETURNING d.id, taken.previous, taken.created_at)
    SELECT m.id AS dispatch, ${SERVER_COLUMNS} FROM moved m LEFT JOIN servers s ON s.id = m.previous ORDER BY m.created_at, m.id`,
  clusterServerOf: `SELECT ${SERVER_COLUMNS} FROM dispatches d JOIN servers s ON s.id = d.server_id WHERE d.id = $1 AND s.expires_at > ${NOW_MS}`,
  clusterServers: `SELECT ${SERVER_COLUMNS} FROM servers s WHERE s.expires_at > ${NOW_MS} ORDER BY s.started_at, s.id`,
  /** Every part of one message in one statement: one transaction, so all are delivered or none. */
  clusterNotify: `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS t (p)`,
  /**
   * A bundle put's first step, in its transaction: its row, taken before any part is written. A
   * second put of the same bundle at once waits here for the first, then finds it kept (0 rows)
   * and writes nothing; if the first failed, the second goes on.
   */
  bundleBegin: `INSERT INTO bundles (hash, size, parts, stored_at) VALUES ($1, 0, 0, ${NOW_MS}) ON CONFLICT (hash) DO NOTHING`,
  bundlePart: `INSERT INTO bundle_parts (hash, part, bytes) VALUES ($1, $2, $3)`,
  bundleEnd: `UPDATE bundles SET size = $2, parts = $3 WHERE hash = $1`,
  bundleHead: `SELECT size, parts FROM bundles WHERE hash = $1`,
  bundleReadPart: `SELECT bytes FROM bundle_parts WHERE hash = $1 AND part = $2`,
} as const;

export type ClusterStatementName = keyof typeof CLUSTER_SQL;
