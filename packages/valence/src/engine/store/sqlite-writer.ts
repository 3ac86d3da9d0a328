/**
 * The SQLite driver's writes: each method runs its statements at once, on
 * the store's one connection. Only `SqliteStore` calls them, inside a
 * transaction it has opened (see `SqliteStore.write`).
 */
import type Database from "better-sqlite3";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StoreError } from "../../errors.js";
import type { CacheKey, DispatchId } from "../../ids.js";
import type { Status } from "../../status.js";
import { encodeEdges, encodeNodes, type SubmittedNode } from "./graph-codec.js";
import { cachedFromColumn } from "./node-state.js";
import type { Statements } from "./sqlite-statements.js";
import type { DispatchRecord, EdgeRecord, NodeRecord } from "./records.js";
import { LARGE_VALUE_BYTES, type CompletedNode, type LiveChunk, type StoreWrites } from "./store.js";

/** Rows per multi-row statement: a wide dispatch completes thousands of nodes per scheduler turn. */
const CHUNK = 100;

export class SqliteWriter implements StoreWrites {
  /**
   * A dispatch's integer key in `node_states`, remembered: a committed key
   * never changes (graphs rows are only deleted with their dispatch, which
   * forgets its key). `forgetKeys`
   * drops them all when a transaction rolls back.
   */
  private readonly keys = new Map<string, number>();
  /** Prepared multi-row statements, by row count. */
  private readonly completedStatements = new Map<number, Database.Statement>();
  /** Files written by this transaction: removed again if it rolls back. */
  private written: string[] = [];

  constructor(
    private readonly db: Database.Database,
    private readonly stmts: Statements,
    private readonly file: string,
  ) {}

  /** The transaction committed: its files stay. */
  committed(): void {
    this.written = [];
  }

  /**
   * The transaction rolled back: a key remembered inside may be handed to the next
   * dispatch, and a half-written output file on a full disk holds the very space the
   * dispatch needs to record that it failed.
   */
  rolledBack(): void {
    this.keys.clear();
    for (const f of this.written) rmSync(f, { force: true });
    this.written = [];
  }

  insertDispatch(d: DispatchRecord, nodes: readonly SubmittedNode[], edges: readonly EdgeRecord[]): void {
    this.stmts.insertDispatch.run(d);
    this.keys.set(d.id, Number(this.stmts.insertGraph.run(d.id, d.inputs, d.outputTemplate, encodeNodes(nodes), encodeEdges(edges)).lastInsertRowid));
  }

  private keyOf(id: DispatchId): number {
    let key = this.keys.get(id);
    if (key === undefined) {
      key = this.stmts.dispatchKey.get(id) as number | undefined;
      if (key === undefined) throw new StoreError(`dispatch ${id} is not in the store ${this.file}`);
      this.keys.set(id, key);
    }
    return key;
  }

  nodeRunning(id: DispatchId, node: number, attempt: number, at: number): void {
    this.stmts.nodeRunning.run(this.keyOf(id), node, attempt, at);
  }

  nodeRetrying(id: DispatchId, node: number, attempt: number, encodedError: string, retryAt: number): void {
    this.stmts.nodeRetrying.run(this.keyOf(id), node, attempt, encodedError, retryAt);
  }

  /** COMPLETED with the encoded outputs (large ones in files under the results dir), one multi-row upsert per chunk. */
  nodesCompleted(id: DispatchId, resultsDir: string, items: readonly CompletedNode[]): void {
    if (!items.length) return;
    const key = this.keyOf(id);
    for (let i = 0; i < items.length; i += CHUNK) {
      const slice = items.slice(i, i + CHUNK);
      const params: unknown[] = [];
      for (const c of slice) {
        let inline: string | null = c.encoded;
        let file: string | null = null;
        if (c.encoded.length > LARGE_VALUE_BYTES) {
          mkdirSync(resultsDir, { recursive: true });
          file = join(resultsDir, `node-${c.node}.out`);
          this.written.push(file);
          writeFileSync(file, c.encoded);
          inline = null;
        }
        params.push(key, c.node, inline, file, c.stdout || null, c.stderr || null, c.at, c.startedAt, c.attempt, c.lane ?? null, cachedFromColumn(c));
      }
      this.completedStatement(slice.length).run(params);
    }
    for (const c of items) {
      if (c.cacheAs) this.stmts.cachePut.run(c.cacheAs.key, c.cacheAs.electron, id, c.node, c.at, c.cacheAs.expiresAt);
      if (c.cachedFrom) this.stmts.cacheHit.run(c.at, c.cachedFrom.key);
    }
  }

  private completedStatement(n: number): Database.Statement {
    let st = this.completedStatements.get(n);
    if (!st) {
      // `attempts` NULL: the RUNNING mark was written, and its attempt stands.
      st = this.db.prepare(
        `INSERT INTO node_states (dispatch, node_id, status, output, output_file, stdout, stderr, ended_at, started_at, attempts, lane, cached_from)
         VALUES ${new Array(n).fill("(?,?,'COMPLETED',?,?,?,?,?,?,?,?,?)").join(",")}
         ON CONFLICT DO UPDATE SET status = 'COMPLETED', output = excluded.output, output_file = excluded.output_file,
           stdout = excluded.stdout, stderr = excluded.stderr, error = NULL, ended_at = excluded.ended_at,
           started_at = excluded.started_at, attempts = COALESCE(excluded.attempts, attempts),
           lane = COALESCE(excluded.lane, lane), retry_at = NULL, cached_from = excluded.cached_from`,
      );
      this.completedStatements.set(n, st);
    }
    return st;
  }

  nodeEnded(
    id: DispatchId,
    node: number,
    status: "FAILED" | "CANCELLED",
    encodedError: string,
    io: { stdout: string; stderr: string } | undefined,
    at: number,
    lane?: string | null,
  ): void {
    this.stmts.nodeFailed.run(this.keyOf(id), node, status, encodedError, io?.stdout || null, io?.stderr || null, at, lane ?? null);
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

  restoreNodes(id: DispatchId, nodes: readonly NodeRecord[]): void {
    const key = this.keyOf(id);
    for (const n of nodes) this.stmts.restoreNode.run(key, n.nodeId, n.status, n.stdout, n.stderr, n.attempts, n.startedAt, n.endedAt, n.lane ?? null);
  }

  deleteDispatch(id: DispatchId): void {
    const { deleteStates, liveClearAll, deleteEvents, deleteSources, deleteCacheOf, deleteGraph, deleteDispatch } = this.stmts;
    for (const st of [deleteStates, liveClearAll, deleteEvents, deleteSources, deleteCacheOf, deleteGraph, deleteDispatch]) {
      st.run(id);
    }
    this.keys.delete(id);
  }

  insertSources(id: DispatchId, sources: Readonly<Record<string, string>>): void {
    for (const [electronId, source] of Object.entries(sources)) this.stmts.insertSource.run(id, electronId, source);
  }

  liveOutputAppended(id: DispatchId, chunks: readonly LiveChunk[], at: number): void {
    for (const c of chunks) this.stmts.liveAppend.run(id, c.node, c.stream, c.text, at);
  }

  liveOutputCleared(id: DispatchId, node: number | null): void {
    if (node === null) this.stmts.liveClearAll.run(id);
    else this.stmts.liveClear.run(id, node);
  }

  cacheRemoved(keys: readonly CacheKey[]): void {
    for (const k of keys) this.stmts.cacheRemove.run(k);
  }

  setOwner(id: DispatchId, pid: number | null, host: string | null, lock: string | null): void {
    this.stmts.setOwner.run(pid, host, lock, id);
  }
}
