/**
 * The store: one SQLite file (WAL) under the data dir, the source of truth
 * for every dispatch. Writes that belong to one scheduler turn go in one
 * transaction (`batch`), which is what keeps 10k-task dispatches cheap.
 */
import Database from "better-sqlite3";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StoreError } from "../../errors.js";
import type { DispatchId } from "../../ids.js";
import type { Status } from "../../status.js";
import { migrate } from "./migrations.js";
import type { DispatchRecord, EdgeRecord, EventRecord, NodeRecord } from "./records.js";

/** One finished node for `nodesCompleted`; `attempt` is set when its RUNNING mark was never written. */
export interface CompletedNode {
  readonly node: number;
  readonly encoded: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly at: number;
  readonly startedAt: number;
  readonly attempt: number | null;
}

/** Outputs larger than this live in a file under the dispatch's results dir, not in a row. */
export const LARGE_VALUE_BYTES = 256 * 1024;

/** `a_b AS aB, …`: rows come out of SQLite already in the records' shape (no per-row copying). */
function aliased(columns: string): string {
  return columns
    .split(",")
    .map((c) => c.trim())
    .map((c) => `${c} AS ${c.replace(/_([a-z])/g, (_, x: string) => x.toUpperCase())}`)
    .join(", ");
}

const DISPATCH_COLUMNS = aliased(
  "id, parent_id, parent_node, name, lattice_id, status, inputs, output, output_template, error, created_at, started_at, " +
    "ended_at, results_dir, bundle_path, entry_file, cwd, owner_pid, owner_host, node_count, nodes_done",
);
const NODE_COLUMNS = aliased(
  "node_id, kind, name, electron_id, status, executor, retries, timeout_ms, key, holes, value, output, output_file, stdout, " +
    "stderr, error, attempts, started_at, ended_at, bundle_path",
);

/** How long the store must be left alone before it checkpoints. */
const CHECKPOINT_IDLE_MS = 300;

export class SqliteStore {
  readonly db: Database.Database;
  readonly file: string;
  private readonly stmts;

  constructor(readonly dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.file = join(dataDir, "valence.db");
    try {
      this.db = new Database(this.file);
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = NORMAL");
      this.db.pragma("busy_timeout = 5000");
      // Checkpoints run after a dispatch finishes (checkpointSoon), not inside the commit
      // of the dispatch that happens to cross SQLite's default 1,000-page mark; this is a cap.
      this.db.pragma("wal_autocheckpoint = 10000");
      migrate(this.db, this.file);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw new StoreError(
        `cannot open the store ${this.file}: ${(error as Error).message}. If the file is damaged, move it aside ` +
          `(Valence creates a new one) or set VALENCE_DATA_DIR to another directory`,
        { cause: error },
      );
    }
    const db = this.db;
    this.stmts = {
      insertDispatch: db.prepare(
        `INSERT INTO dispatches (id, parent_id, parent_node, name, lattice_id, status, inputs, output_template, created_at,
           results_dir, bundle_path, entry_file, cwd, owner_pid, owner_host, node_count, nodes_done)
         VALUES (@id, @parentId, @parentNode, @name, @latticeId, @status, @inputs, @outputTemplate, @createdAt,
           @resultsDir, @bundlePath, @entryFile, @cwd, @ownerPid, @ownerHost, @nodeCount, @nodesDone)`,
      ),
      nodeRunning: db.prepare(
        `UPDATE nodes SET status = 'RUNNING', attempts = ?, started_at = COALESCE(started_at, ?) WHERE dispatch_id = ? AND node_id = ?`,
      ),
      nodeFailed: db.prepare(
        `UPDATE nodes SET status = ?, error = ?, stdout = COALESCE(?, stdout), stderr = COALESCE(?, stderr), ended_at = ?
         WHERE dispatch_id = ? AND node_id = ?`,
      ),
      nodesDone: db.prepare(`UPDATE dispatches SET nodes_done = nodes_done + ? WHERE id = ?`),
      dispatchStatus: db.prepare(
        `UPDATE dispatches SET status = ?, started_at = COALESCE(started_at, ?), ended_at = ?, output = COALESCE(?, output),
           error = COALESCE(?, error) WHERE id = ?`,
      ),
      event: db.prepare(`INSERT INTO events (dispatch_id, node_id, at, kind, detail, cause) VALUES (?, ?, ?, ?, ?, ?)`),
      getDispatch: db.prepare(`SELECT ${DISPATCH_COLUMNS} FROM dispatches WHERE id = ?`),
      getNodes: db.prepare(`SELECT ${NODE_COLUMNS} FROM nodes WHERE dispatch_id = ? ORDER BY node_id`),
      getEdges: db.prepare(`SELECT source, target, param FROM edges WHERE dispatch_id = ?`),
      getEvents: db.prepare(
        `SELECT id, dispatch_id AS dispatchId, node_id AS nodeId, at, kind, detail, cause FROM events WHERE dispatch_id = ? AND id > ? ORDER BY id`,
      ),
      list: db.prepare(`SELECT ${DISPATCH_COLUMNS} FROM dispatches WHERE parent_id IS NULL ORDER BY created_at DESC LIMIT ?`),
      restoreNode: db.prepare(
        `UPDATE nodes SET stdout = ?, stderr = ?, attempts = ?, started_at = ?, ended_at = ? WHERE dispatch_id = ? AND node_id = ?`,
      ),
      insertSource: db.prepare(`INSERT OR REPLACE INTO sources (dispatch_id, electron_id, source) VALUES (?, ?, ?)`),
      getSources: db.prepare(`SELECT electron_id AS electronId, source FROM sources WHERE dispatch_id = ?`),
      setOwner: db.prepare(`UPDATE dispatches SET owner_pid = ?, owner_host = ? WHERE id = ?`),
      children: db.prepare(`SELECT ${DISPATCH_COLUMNS} FROM dispatches WHERE parent_id = ?`),
      unfinished: db.prepare(`SELECT ${DISPATCH_COLUMNS} FROM dispatches WHERE status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED')`),
    };
  }

  /** Runs `fn` in one transaction (nested calls join the outer one). */
  batch<T>(fn: () => T): T {
    this.lastWrite = performance.now();
    return this.db.transaction(fn)();
  }

  insertDispatch(d: DispatchRecord, nodes: readonly NodeRecord[], edges: readonly EdgeRecord[]): void {
    this.lastWrite = performance.now();
    const nodeValues = (n: NodeRecord, p: unknown[]) =>
      p.push(d.id, n.nodeId, n.kind, n.name, n.electronId, n.status, n.executor, n.retries, n.timeoutMs, n.key, n.holes, n.value, n.output, n.bundlePath);
    const edgeValues = (e: EdgeRecord, p: unknown[]) => p.push(d.id, e.source, e.target, e.param);
    this.batch(() => {
      this.stmts.insertDispatch.run(d);
      this.insertMany("nodes", "dispatch_id, node_id, kind, name, electron_id, status, executor, retries, timeout_ms, key, holes, value, output, bundle_path", 14, nodes, nodeValues);
      this.insertMany("edges", "dispatch_id, source, target, param", 4, edges, edgeValues);
    });
  }

  private readonly chunkStatements = new Map<string, Database.Statement>();

  /** Inserts rows CHUNK at a time: one statement call per chunk costs far less than one per row. */
  private insertMany<T>(table: string, columns: string, width: number, rows: readonly T[], values: (r: T, params: unknown[]) => void): void {
    const CHUNK = 100;
    const statement = (n: number) => {
      const key = `${table}:${n}`;
      let st = this.chunkStatements.get(key);
      if (!st) {
        const one = `(${new Array(width).fill("?").join(",")})`;
        st = this.db.prepare(`INSERT INTO ${table} (${columns}) VALUES ${new Array(n).fill(one).join(",")}`);
        this.chunkStatements.set(key, st);
      }
      return st;
    };
    for (let i = 0; i < rows.length; i += CHUNK) {
      const slice = rows.slice(i, i + CHUNK);
      const params: unknown[] = [];
      for (const r of slice) values(r, params);
      // An array binds as anonymous parameters: no 1,300-argument spread per chunk.
      statement(slice.length).run(params);
    }
  }

  nodeRunning(id: DispatchId, node: number, attempt: number, at: number): void {
    this.stmts.nodeRunning.run(attempt, at, id, node);
  }

  /**
   * Marks nodes COMPLETED with their encoded outputs (large ones in files
   * under the results dir). One multi-row UPDATE per chunk: a wide dispatch
   * completes thousands of nodes per scheduler turn.
   */
  nodesCompleted(id: DispatchId, resultsDir: string, items: readonly CompletedNode[]): void {
    const CHUNK = 100;
    for (let i = 0; i < items.length; i += CHUNK) {
      const slice = items.slice(i, i + CHUNK);
      const params: unknown[] = [];
      for (const c of slice) {
        let inline: string | null = c.encoded;
        let file: string | null = null;
        if (c.encoded.length > LARGE_VALUE_BYTES) {
          mkdirSync(resultsDir, { recursive: true });
          file = join(resultsDir, `node-${c.node}.out`);
          writeFileSync(file, c.encoded);
          inline = null;
        }
        params.push(c.node, inline, file, c.stdout || null, c.stderr || null, c.at, c.startedAt, c.attempt);
      }
      params.push(id);
      this.completedStatement(slice.length).run(params);
    }
  }

  private completedStatement(n: number): Database.Statement {
    const key = `completed:${n}`;
    let st = this.chunkStatements.get(key);
    if (!st) {
      st = this.db.prepare(
        `WITH v(node_id, output, output_file, stdout, stderr, ended_at, started_at, attempts) AS (VALUES ${new Array(n).fill("(?,?,?,?,?,?,?,?)").join(",")})
         UPDATE nodes SET status = 'COMPLETED', output = v.output, output_file = v.output_file, stdout = v.stdout, stderr = v.stderr,
           error = NULL, ended_at = v.ended_at, started_at = COALESCE(nodes.started_at, v.started_at),
           attempts = COALESCE(v.attempts, nodes.attempts)
         FROM v WHERE nodes.dispatch_id = ? AND nodes.node_id = v.node_id`,
      );
      this.chunkStatements.set(key, st);
    }
    return st;
  }

  nodeEnded(id: DispatchId, node: number, status: "FAILED" | "CANCELLED", encodedError: string, io: { stdout: string; stderr: string } | undefined, at: number): void {
    this.stmts.nodeFailed.run(status, encodedError, io?.stdout || null, io?.stderr || null, at, id, node);
  }

  countDone(id: DispatchId, n: number): void {
    if (n) this.stmts.nodesDone.run(n, id);
  }

  dispatchStatus(id: DispatchId, status: Status, at: number, fields: { output?: string; error?: string; ended?: boolean } = {}): void {
    this.stmts.dispatchStatus.run(status, at, fields.ended ? at : null, fields.output ?? null, fields.error ?? null, id);
  }

  event(id: DispatchId, node: number | null, kind: string, detail: string | null, cause: number | null, at: number): void {
    this.stmts.event.run(id, node, at, kind, detail, cause);
  }

  getDispatch(id: string): DispatchRecord | undefined {
    return this.stmts.getDispatch.get(id) as DispatchRecord | undefined;
  }

  getNodes(id: DispatchId): NodeRecord[] {
    return this.stmts.getNodes.all(id) as NodeRecord[];
  }

  getEdges(id: DispatchId): EdgeRecord[] {
    return this.stmts.getEdges.all(id) as EdgeRecord[];
  }

  getEvents(id: DispatchId, after = 0): EventRecord[] {
    return this.stmts.getEvents.all(id, after) as EventRecord[];
  }

  listDispatches(limit = 50): DispatchRecord[] {
    return this.stmts.list.all(limit) as DispatchRecord[];
  }

  /** Copies what `insertDispatch` does not write (logs, attempts, times) for nodes carried over from another dispatch. */
  restoreNodes(id: DispatchId, nodes: readonly NodeRecord[]): void {
    this.batch(() => {
      for (const n of nodes) this.stmts.restoreNode.run(n.stdout, n.stderr, n.attempts, n.startedAt, n.endedAt, id, n.nodeId);
    });
  }

  /** Electrons' source text by electron id (shown by the dashboard, never run). */
  insertSources(id: DispatchId, sources: Readonly<Record<string, string>>): void {
    this.batch(() => {
      for (const [electronId, source] of Object.entries(sources)) this.stmts.insertSource.run(id, electronId, source);
    });
  }

  getSources(id: DispatchId): Record<string, string> {
    const out: Record<string, string> = {};
    for (const r of this.stmts.getSources.all(id) as Array<{ electronId: string; source: string }>) out[r.electronId] = r.source;
    return out;
  }

  /** Records which process runs a dispatch now (a runner that resumed it). */
  setOwner(id: DispatchId, pid: number, host: string): void {
    this.lastWrite = performance.now();
    this.stmts.setOwner.run(pid, host, id);
  }

  /** Child dispatches of `id` (its sublattices' runs). */
  childDispatches(id: DispatchId): DispatchRecord[] {
    return this.stmts.children.all(id) as DispatchRecord[];
  }

  unfinishedDispatches(): DispatchRecord[] {
    return this.stmts.unfinished.all() as DispatchRecord[];
  }

  /** A node's encoded output, from its row or its file. */
  readOutput(n: Pick<NodeRecord, "output" | "outputFile">): string | null {
    if (n.output !== null) return n.output;
    return n.outputFile ? readFileSync(n.outputFile, "utf8") : null;
  }

  private checkpointTimer: NodeJS.Timeout | undefined;
  private lastWrite = 0;

  /**
   * Moves the WAL into the database file once the store has been idle for a
   * moment: a checkpoint copies every page a dispatch wrote (several MB for a
   * wide one), so it must not land inside the next dispatch's writes. A
   * write pushes it back; `wal_autocheckpoint` still bounds the WAL's size
   * under a steady stream of dispatches.
   */
  checkpointSoon(): void {
    if (this.checkpointTimer) return;
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined;
      // Written to since: a dispatch is under way, so wait for the next quiet moment.
      if (performance.now() - this.lastWrite < CHECKPOINT_IDLE_MS) return this.checkpointSoon();
      try {
        this.db.pragma("wal_checkpoint(PASSIVE)");
      } catch {
        /* a busy or closed store checkpoints next time */
      }
    }, CHECKPOINT_IDLE_MS);
    this.checkpointTimer.unref();
  }

  close(): void {
    if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
    this.db.close();
  }
}
