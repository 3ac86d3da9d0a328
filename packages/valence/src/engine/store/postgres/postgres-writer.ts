/**
 * Applies one write's recorded ops (recorded-writes.ts) inside a transaction
 * the store has opened, with as few statements as keep the ops' meaning.
 *
 * A scheduler turn of a wide dispatch records thousands of node writes and
 * events, interleaved (a node ENDED, its event, the next node ENDED, …): one
 * statement each would be thousands of round trips. Two kinds of op are
 * therefore gathered rather than sent at once:
 * - node writes (`nodeRunning`, `nodesCompleted`, `nodeEnded`) into a
 *   segment in which each node appears once: nodes in one segment are
 *   distinct rows, so each kind of write is one multi-row upsert and their
 *   order among each other does not matter. A node written again starts a
 *   new segment, so its writes still land in call order.
 * - events into one list, inserted last in call order (their ids keep that order).
 * The other ops touch other tables or columns, so running them as they come,
 * ahead of the gathered ones, changes no outcome; `restoreNodes` writes node rows
 * and so first sends the segment. Everything is in one transaction either way.
 */
import type { QueryResult, QueryResultRow } from "pg";
import { StoreError } from "../../../errors.js";
import type { DispatchId } from "../../../ids.js";
import { encodeEdges, encodeNodes } from "../graph-codec.js";
import { cachedFromColumn } from "../node-state.js";
import type { WriteOp } from "../recorded-writes.js";
import type { NodeRecord } from "../records.js";
import { LARGE_VALUE_BYTES, type CompletedNode } from "../store.js";
import type { StatementName } from "./postgres-statements.js";

/** Runs one of the driver's statements on the transaction's connection. */
export type Run = <R extends QueryResultRow = QueryResultRow>(name: StatementName, values: unknown[]) => Promise<QueryResult<R>>;

/** What a node row of `large_values` is called in `outputFile`. */
export const LARGE_VALUE_MARKER = "postgres:large_values/";

/** Rows per multi-row statement, and the text they may carry at most (a statement's parameters travel in one message). */
const CHUNK_ROWS = 10_000;
const CHUNK_CHARS = 32 * 1024 * 1024;

interface RunningRow {
  readonly key: number;
  readonly node: number;
  readonly attempt: number;
  readonly at: number;
}
interface CompletedRow {
  readonly key: number;
  readonly c: CompletedNode;
  readonly output: string | null;
  readonly file: string | null;
}
interface EndedRow {
  readonly key: number;
  readonly node: number;
  readonly status: string;
  readonly error: string;
  readonly stdout: string | null;
  readonly stderr: string | null;
  readonly at: number;
  readonly lane: string | null;
}
interface EventRow {
  readonly id: DispatchId;
  readonly node: number | null;
  readonly at: number;
  readonly kind: string;
  readonly detail: string | null;
  readonly cause: number | null;
}

/** A log as bytea (a task's output may hold a NUL); null stays null. */
function bytes(text: string | null | undefined): Buffer | null {
  return text === null || text === undefined ? null : Buffer.from(text, "utf8");
}

/** The dispatch an op names. */
/** The dispatch an op writes to; null for one that writes to none (the result cache's). */
function dispatchOf(op: WriteOp): string | null {
  if (op.method === "cacheRemoved") return null;
  return op.method === "insertDispatch" ? op.args[0].id : op.args[0];
}

/** `rows` cut into chunks of at most CHUNK_ROWS rows and about CHUNK_CHARS characters. */
function chunks<T>(rows: readonly T[], size: (row: T) => number = () => 0): T[][] {
  const out: T[][] = [];
  let chunk: T[] = [];
  let chars = 0;
  for (const row of rows) {
    const n = size(row);
    if (chunk.length && (chunk.length >= CHUNK_ROWS || chars + n > CHUNK_CHARS)) {
      out.push(chunk);
      chunk = [];
      chars = 0;
    }
    chunk.push(row);
    chars += n;
  }
  if (chunk.length) out.push(chunk);
  return out;
}

/**
 * One write's application. `known` holds the committed keys the store remembers;
 * the keys this write looks up or creates are in `learned` (the store keeps them once it commits).
 */
export class PostgresWrite {
  readonly learned = new Map<string, number>();
  /** Dispatches this write deletes: the store forgets their keys once it commits. */
  readonly forgotten = new Set<string>();
  private running: RunningRow[] = [];
  private completed: CompletedRow[] = [];
  private ended: EndedRow[] = [];
  /** `key:node` of every row in the segment being gathered. */
  private segment = new Set<string>();
  private events: EventRow[] = [];

  constructor(
    private readonly run: Run,
    private readonly known: ReadonlyMap<string, number>,
    /** The store, for messages: its URL with the password masked. */
    private readonly where: string,
  ) {}

  async apply(ops: readonly WriteOp[]): Promise<void> {
    await this.checkDispatches(ops);
    for (const op of ops) await this.one(op);
    await this.sendSegment();
    await this.sendEvents();
  }

  /**
   * Refuses, before anything is sent, a write that names a dispatch the store does not hold
   * (or names it before the op that inserts it): one round trip for the dispatches not yet known.
   */
  private async checkDispatches(ops: readonly WriteOp[]): Promise<void> {
    const unknown = new Set<string>();
    for (const op of ops) {
      const id = dispatchOf(op);
      if (id !== null && op.method !== "insertDispatch" && !this.known.has(id)) unknown.add(id);
    }
    if (unknown.size) {
      const found = await this.run<{ id: string; key: number }>("keys", [[...unknown]]);
      for (const r of found.rows) this.learned.set(r.id, r.key);
    }
    const inserted = new Set<string>();
    for (const op of ops) {
      const id = dispatchOf(op);
      if (id === null) continue;
      if (op.method === "insertDispatch") inserted.add(id);
      else if (!inserted.has(id) && !this.known.has(id) && !this.learned.has(id)) throw new StoreError(`dispatch ${id} is not in the store ${this.where}`);
    }
  }

  private keyOf(id: string): number {
    const key = this.learned.get(id) ?? this.known.get(id);
    if (key === undefined) throw new StoreError(`dispatch ${id} is not in the store ${this.where}`);
    return key;
  }

  /** Makes room for a node row in the segment: a node already in it sends the segment first. */
  private async claim(key: number, node: number): Promise<void> {
    const row = `${key}:${node}`;
    if (this.segment.has(row)) await this.sendSegment();
    this.segment.add(row);
  }

  private async one(op: WriteOp): Promise<void> {
    switch (op.method) {
      case "insertDispatch": {
        const [d, nodes, edges] = op.args;
        const r = await this.run<{ key: number }>("insertDispatch", [
          d.id, d.parentId, d.parentNode, d.name, d.latticeId, d.status, d.createdAt, d.resultsDir, d.bundlePath, d.entryFile, d.cwd,
          d.ownerPid, d.ownerHost, d.ownerLock, d.nodeCount, d.nodesDone, d.inputs, d.outputTemplate, encodeNodes(nodes), encodeEdges(edges),
        ]);
        this.learned.set(d.id, (r.rows[0] as { key: number }).key);
        return;
      }
      case "nodeRunning": {
        const [id, node, attempt, at] = op.args;
        const key = this.keyOf(id);
        await this.claim(key, node);
        this.running.push({ key, node, attempt, at });
        return;
      }
      case "nodesCompleted": {
        const [id, , items] = op.args;
        const key = this.keyOf(id);
        for (const c of items) {
          await this.claim(key, c.node);
          // A large output gets its own row now (it commutes with the node rows), and the node row names it.
          if (c.encoded.length > LARGE_VALUE_BYTES) {
            const r = await this.run<{ id: number }>("largeValueInsert", [key, c.node, c.encoded]);
            this.completed.push({ key, c, output: null, file: `${LARGE_VALUE_MARKER}${(r.rows[0] as { id: number }).id}` });
          } else {
            this.completed.push({ key, c, output: c.encoded, file: null });
          }
        }
        // Cache entries name the node rows just gathered: after them (rare, one row a statement).
        if (items.some((c) => c.cacheAs || c.cachedFrom)) {
          await this.sendSegment();
          for (const c of items) {
            if (c.cacheAs) await this.run("cachePut", [c.cacheAs.key, c.cacheAs.electron, id, c.node, c.at, c.cacheAs.expiresAt]);
            if (c.cachedFrom) await this.run("cacheHit", [c.at, c.cachedFrom.key]);
          }
        }
        return;
      }
      case "nodeEnded": {
        const [id, node, status, error, io, at, lane] = op.args;
        const key = this.keyOf(id);
        await this.claim(key, node);
        this.ended.push({ key, node, status, error, stdout: io?.stdout || null, stderr: io?.stderr || null, at, lane: lane ?? null });
        return;
      }
      case "nodeRetrying": {
        // After the node's gathered rows (its RUNNING mark of this turn), which would clear it.
        const [id, node, attempt, error, retryAt] = op.args;
        await this.sendSegment();
        await this.run("nodeRetrying", [this.keyOf(id), node, attempt, error, retryAt]);
        return;
      }
      case "restoreNodes": {
        const [id, nodes] = op.args;
        await this.sendSegment();
        await this.restore(this.keyOf(id), nodes);
        return;
      }
      case "event": {
        const [id, node, kind, detail, cause, at] = op.args;
        this.events.push({ id, node, at, kind, detail, cause });
        return;
      }
      case "countDone": {
        const [id, n] = op.args;
        if (n) await this.run("nodesDone", [n, id]);
        return;
      }
      case "dispatchStatus": {
        const [id, status, at, fields = {}] = op.args;
        await this.run("dispatchStatus", [status, at, fields.ended ? at : null, fields.output ?? null, fields.error ?? null, id]);
        return;
      }
      case "insertSources": {
        const [id, sources] = op.args;
        const entries = Object.entries(sources);
        if (entries.length) await this.run("sources", [id, entries.map(([e]) => e), entries.map(([, s]) => s)]);
        return;
      }
      case "liveOutputAppended": {
        const [id, chunks, at] = op.args;
        if (chunks.length) {
          await this.run("liveAppend", [id, chunks.map((c) => c.node), chunks.map((c) => c.stream), chunks.map((c) => bytes(c.text)), at]);
        }
        return;
      }
      case "liveOutputCleared": {
        const [id, node] = op.args;
        await (node === null ? this.run("liveClearAll", [id]) : this.run("liveClear", [id, node]));
        return;
      }
      case "deleteDispatch": {
        const [id] = op.args;
        // After the gathered node rows, which may be this dispatch's.
        await this.sendSegment();
        await this.run("deleteDispatch", [id]);
        this.learned.delete(id);
        this.forgotten.add(id);
        return;
      }
      case "cacheRemoved": {
        const [keys] = op.args;
        if (keys.length) await this.run("cacheRemove", [keys]);
        return;
      }
      case "setOwner": {
        const [id, pid, host, lock] = op.args;
        await this.run("setOwner", [pid, host, lock, id]);
        return;
      }
    }
  }

  /** Sends the gathered node rows: one upsert per kind (per chunk). */
  private async sendSegment(): Promise<void> {
    for (const rows of chunks(this.running)) {
      await this.run("nodesRunning", [rows.map((r) => r.key), rows.map((r) => r.node), rows.map((r) => r.attempt), rows.map((r) => r.at)]);
    }
    const size = (r: CompletedRow) => (r.output?.length ?? 0) + r.c.stdout.length + r.c.stderr.length;
    for (const rows of chunks(this.completed, size)) {
      await this.run("nodesCompleted", [
        rows.map((r) => r.key),
        rows.map((r) => r.c.node),
        rows.map((r) => r.output),
        rows.map((r) => r.file),
        rows.map((r) => bytes(r.c.stdout || null)),
        rows.map((r) => bytes(r.c.stderr || null)),
        rows.map((r) => r.c.at),
        rows.map((r) => r.c.startedAt),
        rows.map((r) => r.c.attempt),
        rows.map((r) => r.c.lane ?? null),
        rows.map((r) => cachedFromColumn(r.c)),
      ]);
    }
    const endedSize = (r: EndedRow) => r.error.length + (r.stdout?.length ?? 0) + (r.stderr?.length ?? 0);
    for (const rows of chunks(this.ended, endedSize)) {
      await this.run("nodesEnded", [
        rows.map((r) => r.key),
        rows.map((r) => r.node),
        rows.map((r) => r.status),
        rows.map((r) => r.error),
        rows.map((r) => bytes(r.stdout)),
        rows.map((r) => bytes(r.stderr)),
        rows.map((r) => r.at),
        rows.map((r) => r.lane),
      ]);
    }
    this.running = [];
    this.completed = [];
    this.ended = [];
    this.segment.clear();
  }

  /** Restored nodes, one upsert per run of distinct nodes (a node named twice: the later one lands last). */
  private async restore(key: number, nodes: readonly NodeRecord[]): Promise<void> {
    const runs: NodeRecord[][] = [];
    let seen = new Set<number>();
    let current: NodeRecord[] = [];
    for (const n of nodes) {
      if (seen.has(n.nodeId)) {
        runs.push(current);
        current = [];
        seen = new Set();
      }
      seen.add(n.nodeId);
      current.push(n);
    }
    if (current.length) runs.push(current);
    const size = (n: NodeRecord) => (n.stdout?.length ?? 0) + (n.stderr?.length ?? 0);
    for (const run of runs) {
      for (const rows of chunks(run, size)) {
        await this.run("nodesRestored", [
          rows.map(() => key),
          rows.map((n) => n.nodeId),
          rows.map((n) => n.status),
          rows.map((n) => bytes(n.stdout)),
          rows.map((n) => bytes(n.stderr)),
          rows.map((n) => n.attempts),
          rows.map((n) => n.startedAt),
          rows.map((n) => n.endedAt),
          rows.map((n) => n.lane ?? null),
        ]);
      }
    }
  }

  private async sendEvents(): Promise<void> {
    const size = (e: EventRow) => e.kind.length + (e.detail?.length ?? 0);
    for (const rows of chunks(this.events, size)) {
      await this.run("events", [
        rows.map((e) => e.id),
        rows.map((e) => e.node),
        rows.map((e) => e.at),
        rows.map((e) => e.kind),
        rows.map((e) => e.detail),
        rows.map((e) => e.cause),
      ]);
    }
    this.events = [];
  }
}
