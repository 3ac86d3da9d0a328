/**
 * The SQLite driver's prepared statements, and the column lists that make
 * rows come out already in the records' shape.
 */
import type Database from "better-sqlite3";

/** `t.a_b AS aB, …`: rows come out of SQLite already in the records' shape (no per-row copying). */
function aliased(columns: string, table?: string): string {
  return columns
    .split(",")
    .map((c) => c.trim())
    .map((c) => `${table ? `${table}.` : ""}${c} AS ${c.replace(/_([a-z])/g, (_, x: string) => x.toUpperCase())}`)
    .join(", ");
}

/**
 * A dispatch's row, with its inputs and output template from its graph: they
 * never change, and kept in the dispatches row they were copied again by
 * every status update (SQLite rewrites a whole row; a 10k-node template is 350 KB).
 */
export const DISPATCH_COLUMNS =
  aliased(
    "id, parent_id, parent_node, name, lattice_id, status, output, error, created_at, started_at, " +
      "ended_at, results_dir, bundle_path, entry_file, cwd, owner_pid, owner_host, owner_lock, node_count, nodes_done",
    "d",
  ) + `, ${aliased("inputs, output_template", "g")}`;
export const DISPATCHES = "dispatches d JOIN graphs g ON g.dispatch_id = d.id";

export const STATE_COLUMNS = aliased("node_id, status, output, output_file, stdout, stderr, error, attempts, started_at, ended_at, lane, retry_at, cached_from");
export const CACHE_COLUMNS = aliased("key, electron, dispatch_id, node_id, created_at, expires_at, hits, last_hit_at", "c");

/** Every fixed statement of the driver, by name. */
type StatementName =
  | "insertDispatch"
  | "insertGraph"
  | "dispatchKey"
  | "nodeRunning"
  | "nodeRetrying"
  | "nodeFailed"
  | "nodesDone"
  | "dispatchStatus"
  | "event"
  | "getDispatch"
  | "getGraph"
  | "getGraphEdges"
  | "getStates"
  | "getEvents"
  | "list"
  | "restoreNode"
  | "insertSource"
  | "getSources"
  | "setOwner"
  | "children"
  | "unfinished"
  | "newest"
  | "counts"
  | "liveAppend"
  | "liveClear"
  | "liveClearAll"
  | "liveOfNode"
  | "liveOfDispatch"
  | "nodeLogs"
  | "deleteStates"
  | "deleteGraph"
  | "deleteEvents"
  | "deleteSources"
  | "deleteDispatch"
  | "deleteCacheOf"
  | "cachePut"
  | "cacheHit"
  | "cacheRemove"
  | "cacheLookup"
  | "cacheEntries";
export type Statements = Readonly<Record<StatementName, Database.Statement>>;

/** Prepares every fixed statement of the driver, once per connection. */
export function prepareStatements(db: Database.Database): Statements {
  return {
    insertDispatch: db.prepare(
      `INSERT INTO dispatches (id, parent_id, parent_node, name, lattice_id, status, created_at,
         results_dir, bundle_path, entry_file, cwd, owner_pid, owner_host, owner_lock, node_count, nodes_done)
       VALUES (@id, @parentId, @parentNode, @name, @latticeId, @status, @createdAt,
         @resultsDir, @bundlePath, @entryFile, @cwd, @ownerPid, @ownerHost, @ownerLock, @nodeCount, @nodesDone)`,
    ),
    insertGraph: db.prepare(`INSERT INTO graphs (dispatch_id, inputs, output_template, nodes, edges) VALUES (?, ?, ?, ?, ?)`),
    dispatchKey: db.prepare(`SELECT key FROM graphs WHERE dispatch_id = ?`).pluck(),
    // State rows are upserts: a node has none until its first change after submission.
    nodeRunning: db.prepare(
      `INSERT INTO node_states (dispatch, node_id, status, attempts, started_at) VALUES (?, ?, 'RUNNING', ?, ?)
       ON CONFLICT DO UPDATE SET status = 'RUNNING', attempts = excluded.attempts, started_at = COALESCE(started_at, excluded.started_at),
         error = NULL, retry_at = NULL`,
    ),
    nodeRetrying: db.prepare(
      `INSERT INTO node_states (dispatch, node_id, status, attempts, error, retry_at) VALUES (?, ?, 'RUNNING', ?, ?, ?)
       ON CONFLICT DO UPDATE SET status = 'RUNNING', attempts = excluded.attempts, error = excluded.error, retry_at = excluded.retry_at`,
    ),
    nodeFailed: db.prepare(
      `INSERT INTO node_states (dispatch, node_id, status, error, stdout, stderr, ended_at, lane) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET status = excluded.status, error = excluded.error, stdout = COALESCE(excluded.stdout, stdout),
         stderr = COALESCE(excluded.stderr, stderr), ended_at = excluded.ended_at, lane = COALESCE(excluded.lane, lane), retry_at = NULL`,
    ),
    nodesDone: db.prepare(`UPDATE dispatches SET nodes_done = nodes_done + ? WHERE id = ?`),
    dispatchStatus: db.prepare(
      `UPDATE dispatches SET status = ?, started_at = COALESCE(started_at, ?), ended_at = ?, output = COALESCE(?, output),
         error = COALESCE(?, error) WHERE id = ?`,
    ),
    event: db.prepare(`INSERT INTO events (dispatch_id, node_id, at, kind, detail, cause) VALUES (?, ?, ?, ?, ?, ?)`),
    getDispatch: db.prepare(`SELECT ${DISPATCH_COLUMNS} FROM ${DISPATCHES} WHERE d.id = ?`),
    getGraph: db.prepare(`SELECT key, nodes, edges FROM graphs WHERE dispatch_id = ?`),
    getGraphEdges: db.prepare(`SELECT edges FROM graphs WHERE dispatch_id = ?`).pluck(),
    getStates: db.prepare(`SELECT ${STATE_COLUMNS} FROM node_states WHERE dispatch = ?`),
    getEvents: db.prepare(
      `SELECT id, dispatch_id AS dispatchId, node_id AS nodeId, at, kind, detail, cause FROM events WHERE dispatch_id = ? AND id > ? ORDER BY id`,
    ),
    list: db.prepare(`SELECT ${DISPATCH_COLUMNS} FROM ${DISPATCHES} WHERE d.parent_id IS NULL ORDER BY d.created_at DESC LIMIT ?`),
    // For nodes carried over by a redispatch: their status and output are in the graph already.
    restoreNode: db.prepare(
      `INSERT INTO node_states (dispatch, node_id, status, stdout, stderr, attempts, started_at, ended_at, lane) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET stdout = excluded.stdout, stderr = excluded.stderr, attempts = excluded.attempts,
         started_at = excluded.started_at, ended_at = excluded.ended_at, lane = excluded.lane, retry_at = NULL`,
    ),
    insertSource: db.prepare(`INSERT OR REPLACE INTO sources (dispatch_id, electron_id, source) VALUES (?, ?, ?)`),
    getSources: db.prepare(`SELECT electron_id AS electronId, source FROM sources WHERE dispatch_id = ?`),
    setOwner: db.prepare(`UPDATE dispatches SET owner_pid = ?, owner_host = ?, owner_lock = ? WHERE id = ?`),
    children: db.prepare(`SELECT ${DISPATCH_COLUMNS} FROM ${DISPATCHES} WHERE d.parent_id = ?`),
    unfinished: db.prepare(`SELECT ${DISPATCH_COLUMNS} FROM ${DISPATCHES} WHERE d.status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED')`),
    newest: db.prepare(`SELECT id FROM dispatches WHERE parent_id IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`).pluck(),
    counts: db.prepare(`SELECT status, COUNT(*) AS n FROM dispatches WHERE parent_id IS NULL GROUP BY status`),
    liveAppend: db.prepare(`INSERT INTO live_output (dispatch_id, node_id, stream, text, at) VALUES (?, ?, ?, ?, ?)`),
    liveClear: db.prepare(`DELETE FROM live_output WHERE dispatch_id = ? AND node_id = ?`),
    liveClearAll: db.prepare(`DELETE FROM live_output WHERE dispatch_id = ?`),
    liveOfNode: db.prepare(
      `SELECT id, node_id AS node, stream, text, at FROM live_output WHERE dispatch_id = ? AND node_id = ? AND id > ? ORDER BY id`,
    ),
    nodeLogs: db.prepare(
      `SELECT s.status, s.stdout, s.stderr, s.attempts, s.retry_at AS retryAt FROM node_states s JOIN graphs g ON g.key = s.dispatch WHERE g.dispatch_id = ? AND s.node_id = ?`,
    ),
    // A dispatch's rows in every table (a purge; sqlite-writer.ts runs them with liveClearAll).
    deleteStates: db.prepare(`DELETE FROM node_states WHERE dispatch = (SELECT key FROM graphs WHERE dispatch_id = ?)`),
    deleteGraph: db.prepare(`DELETE FROM graphs WHERE dispatch_id = ?`),
    deleteEvents: db.prepare(`DELETE FROM events WHERE dispatch_id = ?`),
    deleteSources: db.prepare(`DELETE FROM sources WHERE dispatch_id = ?`),
    deleteDispatch: db.prepare(`DELETE FROM dispatches WHERE id = ?`),
    deleteCacheOf: db.prepare(`DELETE FROM result_cache WHERE dispatch_id = ?`),
    cachePut: db.prepare(
      `INSERT OR REPLACE INTO result_cache (key, electron, dispatch_id, node_id, created_at, expires_at, hits, last_hit_at) VALUES (?, ?, ?, ?, ?, ?, 0, NULL)`,
    ),
    cacheHit: db.prepare(`UPDATE result_cache SET hits = hits + 1, last_hit_at = ? WHERE key = ?`),
    cacheRemove: db.prepare(`DELETE FROM result_cache WHERE key = ?`),
    // Only an entry whose node still holds its output (COMPLETED: a node run again since has its new one).
    cacheLookup: db.prepare(
      `SELECT ${CACHE_COLUMNS}, s.output, s.output_file AS outputFile FROM result_cache c
       JOIN graphs g ON g.dispatch_id = c.dispatch_id JOIN node_states s ON s.dispatch = g.key AND s.node_id = c.node_id
       WHERE c.key = ? AND (c.expires_at IS NULL OR c.expires_at > ?) AND s.status = 'COMPLETED'`,
    ),
    cacheEntries: db.prepare(`SELECT ${CACHE_COLUMNS} FROM result_cache c ORDER BY c.created_at DESC, c.key`),
    liveOfDispatch: db.prepare(`SELECT id, node_id AS node, stream, text, at FROM live_output WHERE dispatch_id = ? AND id > ? ORDER BY id`),
  };
}
