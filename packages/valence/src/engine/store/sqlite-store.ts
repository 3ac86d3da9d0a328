/**
 * The SQLite driver of the Store (store.ts): one SQLite file (WAL) under the
 * data dir, the source of truth for every dispatch. Every `write` is one
 * transaction, which is what keeps 10k-task dispatches cheap; its reads
 * answer at once (the promises are already settled).
 */
import type Database from "better-sqlite3";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { CacheKey, DispatchId } from "../../ids.js";
import type { Status } from "../../status.js";
import { decodeEdges, decodeNodes } from "./graph-codec.js";
import { withState, type NodeState } from "./node-state.js";
import { RecordedWrites, replay } from "./recorded-writes.js";
import { openSqlite, type SqliteOpenOptions } from "./sqlite-open.js";
import { prepareStatements, type Statements } from "./sqlite-statements.js";
import { asWriteError } from "./sqlite-write-error.js";
import { SqliteWriter } from "./sqlite-writer.js";
import { SqliteTriggers } from "./sqlite-triggers.js";
import type { DispatchRecord, EdgeRecord, EventRecord, NodeRecord } from "./records.js";
import type { CacheEntry, CacheHit, DispatchListRow, DispatchQuery, InProcessReads, LiveChunkRecord, NodeLogs, Store, StoreTx, StoreWrites } from "./store.js";


/** How long the store must be left alone before it checkpoints. */
const CHECKPOINT_IDLE_MS = 300;

const DONE: Promise<void> = Promise.resolve();

export class SqliteStore implements Store {
  readonly db: Database.Database;
  readonly file: string;
  private readonly stmts: Statements;
  private readonly writer: SqliteWriter;
  readonly triggers: SqliteTriggers;
  readonly inProcess: InProcessReads = {
    getNodes: (id) => this.nodeRows(id),
    readOutput: (n) => this.outputOf(n),
  };
  /**
   * Set while a `transaction` holds the connection (its function awaits between its
   * reads and its writes): writes and transactions that come meanwhile wait here, in
   * order, so none of them joins a transaction that is not theirs.
   */
  private queue: Promise<unknown> | undefined;

  constructor(
    readonly dataDir: string,
    options: SqliteOpenOptions = {},
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.file = join(dataDir, "valence.db");
    this.db = openSqlite(this.file, options);
    this.stmts = prepareStatements(this.db);
    this.writer = new SqliteWriter(this.db, this.stmts, this.file);
    this.triggers = new SqliteTriggers(this.db, (fn) => this.alone(fn));
  }

  write(fill: (w: StoreWrites) => void): Promise<void> {
    if (this.queue) {
      const recorded = new RecordedWrites();
      fill(recorded);
      return this.enqueue(async () => this.inTransaction(() => replay(recorded.ops, this.writer)));
    }
    // The common case: nothing else holds the connection, so the writes land now.
    try {
      this.inTransaction(() => fill(this.writer));
      return DONE;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.enqueue(async () => {
      const recorded = new RecordedWrites();
      const tx: StoreTx = Object.assign(recorded, {
        getDispatch: async (id: string) => this.dispatchRow(id),
        getNodes: async (id: DispatchId) => this.nodeRows(id),
        childDispatches: async (id: DispatchId) => this.childRows(id),
      });
      // The write lock is held from the first read: another process's owner check waits for ours.
      this.begin();
      try {
        const out = await fn(tx);
        replay(recorded.ops, this.writer);
        this.db.exec("COMMIT");
        this.writer.committed();
        return out;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        this.writer.rolledBack();
        throw asWriteError(error, this.dataDir);
      }
    });
  }

  /**
   * Runs `fn` as one transaction of its own: at once when nothing holds the connection, else
   * after what is queued (a `transaction` awaiting between its reads and writes must not have
   * another's statements land inside it).
   */
  private alone<T>(fn: () => T): Promise<T> {
    const run = () => {
      this.lastWrite = performance.now();
      try {
        return this.db.transaction(fn).immediate();
      } catch (error) {
        throw asWriteError(error, this.dataDir);
      }
    };
    if (!this.queue) {
      try {
        return Promise.resolve(run());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.enqueue(async () => run());
  }

  /** Runs `job` once everything queued before it has settled; the queue empties when the last one does. */
  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = (this.queue ?? DONE).then(job, job);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queue = tail;
    void tail.then(() => {
      if (this.queue === tail) this.queue = undefined;
    });
    return run;
  }

  private begin(): void {
    this.lastWrite = performance.now();
    try {
      this.db.exec("BEGIN IMMEDIATE");
    } catch (error) {
      throw asWriteError(error, this.dataDir);
    }
  }

  /**
   * Runs `fn` in one transaction. IMMEDIATE: it takes the write lock first, waiting its turn
   * behind other processes' writes (busy_timeout). A deferred one that reads before it writes
   * (a dispatch key, a node) fails at once with "database is locked" when another process
   * wrote in between, since SQLite cannot upgrade its stale snapshot.
   */
  private inTransaction(fn: () => void): void {
    this.lastWrite = performance.now();
    try {
      this.db.transaction(fn).immediate();
      this.writer.committed();
    } catch (error) {
      this.writer.rolledBack();
      throw asWriteError(error, this.dataDir);
    }
  }

  async getDispatch(id: string): Promise<DispatchRecord | undefined> {
    return this.dispatchRow(id);
  }

  private dispatchRow(id: string): DispatchRecord | undefined {
    return this.stmts.getDispatch.get(id) as DispatchRecord | undefined;
  }

  async getNodes(id: DispatchId): Promise<NodeRecord[]> {
    return this.nodeRows(id);
  }

  /** The dispatch's nodes in id order: each as submitted, overlaid with its state row if it has one. */
  private nodeRows(id: DispatchId): NodeRecord[] {
    const g = this.stmts.getGraph.get(id) as { key: number; nodes: string } | undefined;
    if (!g) return [];
    const states = new Map<number, NodeState>();
    for (const s of this.stmts.getStates.all(g.key) as NodeState[]) states.set(s.nodeId, s);
    return decodeNodes(g.nodes).map((n) => withState(n, states.get(n.nodeId)));
  }

  async getEdges(id: DispatchId): Promise<EdgeRecord[]> {
    const edges = this.stmts.getGraphEdges.get(id) as string | undefined;
    return edges === undefined ? [] : decodeEdges(edges);
  }

  async getNodeLogs(id: DispatchId, node: number): Promise<NodeLogs | undefined> {
    return this.stmts.nodeLogs.get(id, node) as NodeLogs | undefined;
  }

  async getLiveOutput(id: DispatchId, node: number | null, after = 0): Promise<LiveChunkRecord[]> {
    return (node === null ? this.stmts.liveOfDispatch.all(id, after) : this.stmts.liveOfNode.all(id, node, after)) as LiveChunkRecord[];
  }

  async getEvents(id: DispatchId, after = 0): Promise<EventRecord[]> {
    return this.stmts.getEvents.all(id, after) as EventRecord[];
  }

  async listDispatches(limit = 50): Promise<DispatchRecord[]> {
    return this.stmts.list.all(limit) as DispatchRecord[];
  }

  async getSources(id: DispatchId): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const r of this.stmts.getSources.all(id) as Array<{ electronId: string; source: string }>) out[r.electronId] = r.source;
    return out;
  }

  /** Child dispatches of `id` (its sublattices' runs). */
  async childDispatches(id: DispatchId): Promise<DispatchRecord[]> {
    return this.childRows(id);
  }

  private childRows(id: DispatchId): DispatchRecord[] {
    return this.stmts.children.all(id) as DispatchRecord[];
  }

  async unfinishedDispatches(): Promise<DispatchRecord[]> {
    return this.stmts.unfinished.all() as DispatchRecord[];
  }

  async countByStatus(): Promise<Partial<Record<Status, number>>> {
    const out: Partial<Record<Status, number>> = {};
    for (const r of this.stmts.counts.all() as Array<{ status: Status; n: number }>) out[r.status] = r.n;
    return out;
  }

  async newestDispatch(): Promise<DispatchId | null> {
    return (this.stmts.newest.get() as DispatchId | undefined) ?? null;
  }

  async findDispatches(q: DispatchQuery): Promise<{ total: number; rows: DispatchListRow[] }> {
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
  async readOutput(n: Pick<NodeRecord, "output" | "outputFile">): Promise<string | null> {
    return this.outputOf(n);
  }

  async cacheLookup(key: CacheKey, now: number): Promise<CacheHit | undefined> {
    const row = this.stmts.cacheLookup.get(key, now) as (CacheEntry & { output: string | null; outputFile: string | null }) | undefined;
    if (!row) return undefined;
    const { output, outputFile, ...entry } = row;
    const encoded = this.outputOf({ output, outputFile });
    return encoded === null ? undefined : { entry, encoded };
  }

  async cacheEntries(): Promise<CacheEntry[]> {
    return this.stmts.cacheEntries.all() as CacheEntry[];
  }

  private outputOf(n: Pick<NodeRecord, "output" | "outputFile">): string | null {
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

  /** Closes at once when nothing is queued; writes still queued behind a transaction land first. */
  close(): Promise<void> {
    const shut = () => {
      if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
      this.db.close();
    };
    if (!this.queue) {
      shut();
      return DONE;
    }
    return this.queue.then(shut);
  }
}
