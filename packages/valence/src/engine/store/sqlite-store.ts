/**
 * The SQLite driver of the Store (store.ts): one SQLite file (WAL) under the
 * data dir, the source of truth for every dispatch. Writes that belong to one
 * scheduler turn go in one transaction (`batch`), which is what keeps
 * 10k-task dispatches cheap.
 */
import Database from "better-sqlite3";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StoreError } from "../../errors.js";
import type { DispatchId } from "../../ids.js";
import type { Status } from "../../status.js";
import { decodeEdges, decodeNodes, encodeEdges, encodeNodes, type SubmittedNode } from "./graph-codec.js";
import { migrate } from "./migrations.js";
import { prepareStatements, type Statements } from "./sqlite-statements.js";
import { asWriteError } from "./sqlite-write-error.js";
import type { DispatchRecord, EdgeRecord, EventRecord, NodeRecord } from "./records.js";
import { LARGE_VALUE_BYTES, type CompletedNode, type DispatchListRow, type DispatchQuery, type Store } from "./store.js";

/** A node's row in `node_states`: its state once it has moved on from the one it was submitted in. */
type NodeState = Pick<NodeRecord, "nodeId" | "status" | "output" | "outputFile" | "stdout" | "stderr" | "error" | "startedAt" | "endedAt"> & {
  readonly attempts: number | null;
};

/** How long the store must be left alone before it checkpoints. */
const CHECKPOINT_IDLE_MS = 300;

export class SqliteStore implements Store {
  readonly db: Database.Database;
  readonly file: string;
  private readonly stmts: Statements;

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
    this.stmts = prepareStatements(this.db);
  }

  /**
   * Runs `fn` in one transaction (nested calls join the outer one). IMMEDIATE:
   * it takes the write lock first, waiting its turn behind other processes'
   * writes (busy_timeout). A deferred one that reads before it writes (a
   * dispatch key, a node) fails at once with "database is locked" when another
   * process wrote in between, since SQLite cannot upgrade its stale snapshot.
   */
  batch<T>(fn: () => T): T {
    this.lastWrite = performance.now();
    try {
      return this.db.transaction(fn).immediate();
    } catch (error) {
      // Rolled back: a key remembered inside may be handed to the next dispatch.
      this.keys.clear();
      throw asWriteError(error, this.dataDir);
    }
  }

  /** Stores a dispatch and its graph. `nodes` may be full NodeRecords; only what is fixed at submission is kept. */
  insertDispatch(d: DispatchRecord, nodes: readonly SubmittedNode[], edges: readonly EdgeRecord[]): void {
    this.lastWrite = performance.now();
    const graphNodes = encodeNodes(nodes);
    const graphEdges = encodeEdges(edges);
    this.batch(() => {
      this.stmts.insertDispatch.run(d);
      this.keys.set(d.id, Number(this.stmts.insertGraph.run(d.id, d.inputs, d.outputTemplate, graphNodes, graphEdges).lastInsertRowid));
    });
  }

  /**
   * A dispatch's integer key in `node_states`, remembered: a committed key
   * never changes (graphs rows are never deleted or re-keyed). `batch`
   * forgets them all when a transaction rolls back.
   */
  private readonly keys = new Map<string, number>();

  private keyOf(id: DispatchId): number {
    let key = this.keys.get(id);
    if (key === undefined) {
      key = this.stmts.dispatchKey.get(id) as number | undefined;
      if (key === undefined) throw new StoreError(`dispatch ${id} is not in the store ${this.file}`);
      this.keys.set(id, key);
    }
    return key;
  }

  /** Prepared multi-row statements, by chunk size. */
  private readonly chunkStatements = new Map<string, Database.Statement>();

  nodeRunning(id: DispatchId, node: number, attempt: number, at: number): void {
    this.stmts.nodeRunning.run(this.keyOf(id), node, attempt, at);
  }

  /**
   * Marks nodes COMPLETED with their encoded outputs (large ones in files
   * under the results dir). One multi-row upsert per chunk: a wide dispatch
   * completes thousands of nodes per scheduler turn.
   */
  nodesCompleted(id: DispatchId, resultsDir: string, items: readonly CompletedNode[]): void {
    if (!items.length) return;
    const key = this.keyOf(id);
    const CHUNK = 100;
    const written: string[] = [];
    try {
      for (let i = 0; i < items.length; i += CHUNK) {
        const slice = items.slice(i, i + CHUNK);
        const params: unknown[] = [];
        for (const c of slice) {
          let inline: string | null = c.encoded;
          let file: string | null = null;
          if (c.encoded.length > LARGE_VALUE_BYTES) {
            mkdirSync(resultsDir, { recursive: true });
            file = join(resultsDir, `node-${c.node}.out`);
            written.push(file);
            writeFileSync(file, c.encoded);
            inline = null;
          }
          params.push(key, c.node, inline, file, c.stdout || null, c.stderr || null, c.at, c.startedAt, c.attempt);
        }
        this.completedStatement(slice.length).run(params);
      }
    } catch (error) {
      // The rows roll back with the batch; the files must go too: a half-written one on a full
      // disk holds the very space the dispatch needs to record that it failed.
      for (const f of written) rmSync(f, { force: true });
      throw error;
    }
  }

  private completedStatement(n: number): Database.Statement {
    const key = `completed:${n}`;
    let st = this.chunkStatements.get(key);
    if (!st) {
      // `attempts` NULL: the RUNNING mark was written, and its attempt stands.
      st = this.db.prepare(
        `INSERT INTO node_states (dispatch, node_id, status, output, output_file, stdout, stderr, ended_at, started_at, attempts)
         VALUES ${new Array(n).fill("(?,?,'COMPLETED',?,?,?,?,?,?,?)").join(",")}
         ON CONFLICT DO UPDATE SET status = 'COMPLETED', output = excluded.output, output_file = excluded.output_file,
           stdout = excluded.stdout, stderr = excluded.stderr, error = NULL, ended_at = excluded.ended_at,
           started_at = COALESCE(started_at, excluded.started_at), attempts = COALESCE(excluded.attempts, attempts)`,
      );
      this.chunkStatements.set(key, st);
    }
    return st;
  }

  nodeEnded(id: DispatchId, node: number, status: "FAILED" | "CANCELLED", encodedError: string, io: { stdout: string; stderr: string } | undefined, at: number): void {
    this.stmts.nodeFailed.run(this.keyOf(id), node, status, encodedError, io?.stdout || null, io?.stderr || null, at);
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

  /** The dispatch's nodes in id order: each as submitted, overlaid with its state row if it has one. */
  getNodes(id: DispatchId): NodeRecord[] {
    const g = this.stmts.getGraph.get(id) as { key: number; nodes: string } | undefined;
    if (!g) return [];
    const states = new Map<number, NodeState>();
    for (const s of this.stmts.getStates.all(g.key) as NodeState[]) states.set(s.nodeId, s);
    return decodeNodes(g.nodes).map((n) => withState(n, states.get(n.nodeId)));
  }

  getEdges(id: DispatchId): EdgeRecord[] {
    const edges = this.stmts.getGraphEdges.get(id) as string | undefined;
    return edges === undefined ? [] : decodeEdges(edges);
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
      const key = this.keyOf(id);
      for (const n of nodes) this.stmts.restoreNode.run(key, n.nodeId, n.status, n.stdout, n.stderr, n.attempts, n.startedAt, n.endedAt);
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
  setOwner(id: DispatchId, pid: number, host: string, lock: string): void {
    this.lastWrite = performance.now();
    this.stmts.setOwner.run(pid, host, lock, id);
  }

  /** Child dispatches of `id` (its sublattices' runs). */
  childDispatches(id: DispatchId): DispatchRecord[] {
    return this.stmts.children.all(id) as DispatchRecord[];
  }

  unfinishedDispatches(): DispatchRecord[] {
    return this.stmts.unfinished.all() as DispatchRecord[];
  }

  countByStatus(): Partial<Record<Status, number>> {
    const out: Partial<Record<Status, number>> = {};
    for (const r of this.stmts.counts.all() as Array<{ status: Status; n: number }>) out[r.status] = r.n;
    return out;
  }

  newestDispatch(): DispatchId | null {
    return (this.stmts.newest.get() as DispatchId | undefined) ?? null;
  }

  findDispatches(q: DispatchQuery): { total: number; rows: DispatchListRow[] } {
    const where = ["parent_id IS NULL"];
    const params: unknown[] = [];
    if (q.statuses?.length) {
      where.push(`status IN (${q.statuses.map(() => "?").join(", ")})`);
      params.push(...q.statuses);
    }
    if (q.search) {
      // A literal substring: the user's % and _ mean themselves.
      const like = `%${q.search.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
      where.push(`(name LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\')`);
      params.push(like, like);
    }
    const sql = where.join(" AND ");
    const total = this.db.prepare(`SELECT COUNT(*) FROM dispatches WHERE ${sql}`).pluck().get(...params) as number;
    const rows = this.db
      .prepare(
        `SELECT id, name, status, created_at AS createdAt, started_at AS startedAt, ended_at AS endedAt, node_count AS nodeCount,
           nodes_done AS nodesDone FROM dispatches WHERE ${sql} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
      )
      .all(...params, q.limit, q.offset) as DispatchListRow[];
    return { total, rows };
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

/**
 * A node as it is now: the submitted one, or its state row over it (the output stays the
 * submitted one until it has its own). Written field by field, not by spreading: one object
 * shape for every node, which is several times faster on 10k-node graphs.
 */
function withState(n: SubmittedNode, s: NodeState | undefined): NodeRecord {
  const ownOutput = s !== undefined && (s.output !== null || s.outputFile !== null);
  return {
    nodeId: n.nodeId,
    kind: n.kind,
    name: n.name,
    electronId: n.electronId,
    status: s ? s.status : n.status,
    executor: n.executor,
    retries: n.retries,
    timeoutMs: n.timeoutMs,
    key: n.key,
    holes: n.holes,
    value: n.value,
    output: ownOutput ? (s as NodeState).output : n.output,
    outputFile: s ? s.outputFile : null,
    stdout: s ? s.stdout : null,
    stderr: s ? s.stderr : null,
    error: s ? s.error : null,
    attempts: s ? (s.attempts ?? 0) : 0,
    startedAt: s ? s.startedAt : null,
    endedAt: s ? s.endedAt : null,
    bundlePath: n.bundlePath,
  };
}
