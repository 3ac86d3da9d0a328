/**
 * The Postgres driver of the Store (../store.ts): a team's store, one
 * database that several servers can share. Same records, same contract
 * (../test-support/store-contract.ts) as the SQLite driver; what differs is
 * where things live and how a write travels:
 *
 * - A `write` is recorded at once (RecordedWrites) and applied as one
 *   transaction on one connection, its hot ops gathered into multi-row
 *   statements (postgres-writer.ts). Writes and transactions of one store run
 *   one after another in the order they were issued, on a connection of their
 *   own (reads use another pool and never wait behind them).
 * - `transaction(fn)` reads the dispatch row `FOR UPDATE`: two servers checking
 *   one dispatch's owner at once take turns.
 * - Outputs over LARGE_VALUE_BYTES are rows of `large_values`; a node's
 *   `outputFile` names one as `postgres:large_values/<id>` and `readOutput`
 *   reads it. Nothing is written under the results dir.
 * - int8 columns (times, event ids, counts) come back as JS numbers; the type
 *   parsers are this store's pools' own, not pg's global ones.
 * - `cluster` (postgres-cluster.ts): the servers' leases and messages, on a
 *   pool and listening connections of its own; `close` ends them too.
 */
import { mkdirSync } from "node:fs";
import pg from "pg";
import type { QueryResult, QueryResultRow } from "pg";
import { StoreError } from "../../../errors.js";
import type { DispatchId } from "../../../ids.js";
import type { Status } from "../../../status.js";
import { decodeEdges, decodeNodes, type SubmittedNode } from "../graph-codec.js";
import { RecordedWrites } from "../recorded-writes.js";
import type { DispatchRecord, EdgeRecord, EventRecord, NodeRecord } from "../records.js";
import type { DispatchListRow, DispatchQuery, Store, StoreTx, StoreWrites } from "../store.js";
import { maskUrl, targetOf } from "./mask-url.js";
import { PostgresCluster } from "./postgres-cluster.js";
import { openError, storeFailure } from "./postgres-errors.js";
import { migratePostgres } from "./postgres-schema.js";
import { SQL, type StatementName } from "./postgres-statements.js";
import { LARGE_VALUE_MARKER, PostgresWrite, type Run } from "./postgres-writer.js";

export interface PostgresStoreOptions {
  /** `postgres://USER:PASSWORD@HOST:PORT/DATABASE`; the database must exist (open creates the tables). */
  readonly url: string;
  /** The data dir: results dirs, bundles and the server's files sit there (the store's rows do not). */
  readonly dataDir: string;
  /** How long to wait for a connection before failing in words (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Connections for reads (default 8); writes use one more of their own. */
  readonly readConnections?: number;
}

/** A node's row in `node_states`, as read (logs are bytea). */
type StateRow = Pick<NodeRecord, "nodeId" | "status" | "output" | "outputFile" | "error" | "startedAt" | "endedAt"> & {
  readonly attempts: number | null;
  stdout: Buffer | string | null;
  stderr: Buffer | string | null;
};
/** The same row with its logs as text. */
type NodeState = Omit<StateRow, "stdout" | "stderr"> & { readonly stdout: string | null; readonly stderr: string | null };

const parseInt8 = (value: string): number => Number(value);

/** pg's type parsers, but int8 (times in ms, bigserial ids, COUNT(*)) as numbers: the records' numbers. */
const TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 && format !== "binary" ? parseInt8 : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
};

const DONE: Promise<void> = Promise.resolve();

/** Something statements can run on: a pool (reads) or one connection (a transaction). */
interface Queryable {
  query<R extends QueryResultRow>(config: { name?: string; text: string; values?: unknown[] }): Promise<QueryResult<R>>;
}

export class PostgresStore implements Store {
  /**
   * Each dispatch's integer key in `node_states`, once a committed write has seen it: a
   * committed key never changes (graphs rows are never deleted or re-keyed).
   */
  private readonly keys = new Map<string, number>();
  /** Every write and transaction, in the order issued: each starts when the one before has settled. */
  private queue: Promise<unknown> = DONE;
  private closing: Promise<void> | undefined;
  /** Set once the pools have ended: a read then is refused in words rather than by pg. */
  private ended = false;
  /** The store's URL with the password masked: what messages name. */
  private readonly where: string;

  private constructor(
    readonly dataDir: string,
    private readonly url: string,
    private readonly reads: pg.Pool,
    private readonly writes: pg.Pool,
    /** Leases and messages between the servers sharing the database (postgres-cluster.ts), on a pool of its own. */
    readonly cluster: PostgresCluster,
  ) {
    this.where = maskUrl(url);
  }

  /** Connects, creates or upgrades the tables (see postgres-schema.ts), and returns the store. */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    if (!targetOf(opts.url)) {
      throw new StoreError(`the store URL ${maskUrl(opts.url)} is not a Postgres URL: write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE`);
    }
    mkdirSync(opts.dataDir, { recursive: true });
    const timeoutMs = opts.connectTimeoutMs ?? 10_000;
    const config: pg.PoolConfig = {
      connectionString: opts.url,
      types: TYPES,
      connectionTimeoutMillis: timeoutMs,
      application_name: "valence",
      // Idle connections do not keep the process alive (an embedded store does not either).
      allowExitOnIdle: true,
    };
    const reads = new pg.Pool({ ...config, max: opts.readConnections ?? 8 });
    const writes = new pg.Pool({ ...config, max: 1 });
    // An idle connection that drops (the server restarted) is an 'error' on its pool, which
    // would end the process unheard; the pool replaces it, and a query that meets it fails in words.
    for (const pool of [reads, writes]) pool.on("error", () => undefined);
    const end = () => Promise.all([reads.end(), writes.end()]).catch(() => undefined);
    let client: pg.PoolClient;
    try {
      client = await writes.connect();
    } catch (error) {
      await end();
      throw openError(error, opts.url, timeoutMs);
    }
    try {
      await migratePostgres(client, maskUrl(opts.url));
      client.release();
    } catch (error) {
      client.release(true);
      await end();
      throw openError(error, opts.url, timeoutMs);
    }
    return new PostgresStore(opts.dataDir, opts.url, reads, writes, new PostgresCluster({ url: opts.url, dataDir: opts.dataDir, connectTimeoutMs: timeoutMs }));
  }

  write(fill: (w: StoreWrites) => void): Promise<void> {
    const recorded = new RecordedWrites();
    try {
      this.assertOpen();
      fill(recorded);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.enqueue(async () => {
      // Nothing to write, but it still settles after the writes issued before it.
      if (!recorded.ops.length) return;
      await this.inTransaction(async () => undefined, recorded);
    });
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    try {
      this.assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.enqueue(async () => {
      const recorded = new RecordedWrites();
      return this.inTransaction(async (client) => {
        const on = this.on(client, "read");
        const tx: StoreTx = Object.assign(recorded, {
          // Locked until the transaction ends: another server's owner check waits for this one.
          getDispatch: async (id: string) => (await on<DispatchRecord>("getDispatchForUpdate", [id])).rows[0],
          getNodes: async (id: DispatchId) => this.nodeRows(client, id),
          childDispatches: async (id: DispatchId) => (await on<DispatchRecord>("children", [id])).rows,
        });
        return fn(tx);
      }, recorded);
    });
  }

  /**
   * BEGIN, `fn` (a transaction's reads), the recorded writes, COMMIT, on the write connection;
   * ROLLBACK when anything throws. `fn`'s own errors pass as they are; Postgres's are said in words.
   */
  private async inTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>, recorded: RecordedWrites): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.writes.connect();
    } catch (error) {
      throw storeFailure(error, this.url, this.dataDir, "write");
    }
    // A connection lost while it is checked out is an 'error' on it, besides the failed query:
    // heard here, or it would end the process. The query's own failure is what is reported.
    let lost = false;
    const onLost = () => {
      lost = true;
    };
    client.on("error", onLost);
    const control = async (text: "BEGIN" | "COMMIT") => {
      try {
        await client.query(text);
      } catch (error) {
        throw storeFailure(error, this.url, this.dataDir, text === "COMMIT" ? "commit" : "write");
      }
    };
    let broken = false;
    try {
      await control("BEGIN");
      const out = await fn(client);
      const write = new PostgresWrite(this.on(client, "write"), this.keys, this.where);
      await write.apply(recorded.ops);
      await control("COMMIT");
      for (const [id, key] of write.learned) this.keys.set(id, key);
      return out;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.off("error", onLost);
      // A connection that was lost, or could not even roll back, is dropped, not handed to the next write.
      client.release(lost || broken || undefined);
    }
  }

  /** Runs `job` once everything queued before it has settled. */
  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Writes are refused from the moment `close` is called (those issued before still land). */
  private assertOpen(): void {
    if (this.closing) throw new StoreError(`the Postgres store ${this.where} is closed`);
  }

  /** Reads are answered until the pools have ended. */
  private assertNotEnded(): void {
    if (this.ended) throw new StoreError(`the Postgres store ${this.where} is closed`);
  }

  /** A runner of the driver's statements on `target`, its failures said in words. */
  private on(target: Queryable, doing: "read" | "write"): Run {
    return async <R extends QueryResultRow>(name: StatementName, values: unknown[]) => {
      this.assertNotEnded();
      try {
        return await target.query<R>({ name, text: SQL[name], values });
      } catch (error) {
        throw storeFailure(error, this.url, this.dataDir, doing);
      }
    };
  }

  /** A read on the read pool. */
  private read<R extends QueryResultRow>(name: StatementName, values: unknown[]): Promise<QueryResult<R>> {
    return this.on(this.reads, "read")<R>(name, values);
  }

  /** A query whose text is built per call (the dashboard's search), on the read pool. */
  private async readText<R extends QueryResultRow>(text: string, values: unknown[]): Promise<QueryResult<R>> {
    this.assertNotEnded();
    try {
      return await this.reads.query<R>(text, values);
    } catch (error) {
      throw storeFailure(error, this.url, this.dataDir, "read");
    }
  }

  async getDispatch(id: string): Promise<DispatchRecord | undefined> {
    return (await this.read<DispatchRecord>("getDispatch", [id])).rows[0];
  }

  async getNodes(id: DispatchId): Promise<NodeRecord[]> {
    return this.nodeRows(this.reads, id);
  }

  /** The dispatch's nodes in id order: each as submitted, overlaid with its state row if it has one. */
  private async nodeRows(target: Queryable, id: DispatchId): Promise<NodeRecord[]> {
    const on = this.on(target, "read");
    // The graph never changes once stored, so the two need not be one snapshot.
    const [graph, states] = await Promise.all([on<{ nodes: string }>("getGraphNodes", [id]), on<StateRow>("getStates", [id])]);
    const g = graph.rows[0];
    if (!g) return [];
    const byNode = new Map<number, NodeState>();
    for (const s of states.rows) {
      s.stdout = text(s.stdout);
      s.stderr = text(s.stderr);
      byNode.set(s.nodeId, s as NodeState);
    }
    return decodeNodes(g.nodes).map((n) => withState(n, byNode.get(n.nodeId)));
  }

  async getEdges(id: DispatchId): Promise<EdgeRecord[]> {
    const g = (await this.read<{ edges: string }>("getGraphEdges", [id])).rows[0];
    return g ? decodeEdges(g.edges) : [];
  }

  async getEvents(id: DispatchId, after = 0): Promise<EventRecord[]> {
    return (await this.read<EventRecord>("getEvents", [id, after])).rows;
  }

  async listDispatches(limit = 50): Promise<DispatchRecord[]> {
    return (await this.read<DispatchRecord>("list", [limit])).rows;
  }

  async getSources(id: DispatchId): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const r of (await this.read<{ electronId: string; source: string }>("getSources", [id])).rows) out[r.electronId] = r.source;
    return out;
  }

  async childDispatches(id: DispatchId): Promise<DispatchRecord[]> {
    return (await this.read<DispatchRecord>("children", [id])).rows;
  }

  async unfinishedDispatches(): Promise<DispatchRecord[]> {
    return (await this.read<DispatchRecord>("unfinished", [])).rows;
  }

  /** A node's encoded output: from its row, or the `large_values` row its `outputFile` names. */
  async readOutput(n: Pick<NodeRecord, "output" | "outputFile">): Promise<string | null> {
    if (n.output !== null) return n.output;
    if (!n.outputFile) return null;
    const id = n.outputFile.startsWith(LARGE_VALUE_MARKER) ? n.outputFile.slice(LARGE_VALUE_MARKER.length) : "";
    if (!/^\d+$/.test(id)) throw new StoreError(`a node's output is kept at ${n.outputFile}, which is not a place in the Postgres store ${this.where}`);
    const row = (await this.read<{ value: string }>("largeValue", [id])).rows[0];
    if (!row) throw new StoreError(`a node's output ${n.outputFile} is missing from the Postgres store ${this.where}`);
    return row.value;
  }

  async countByStatus(): Promise<Partial<Record<Status, number>>> {
    const out: Partial<Record<Status, number>> = {};
    for (const r of (await this.read<{ status: Status; n: number }>("counts", [])).rows) out[r.status] = r.n;
    return out;
  }

  async newestDispatch(): Promise<DispatchId | null> {
    return (await this.read<{ id: DispatchId }>("newest", [])).rows[0]?.id ?? null;
  }

  async findDispatches(q: DispatchQuery): Promise<{ total: number; rows: DispatchListRow[] }> {
    const where = ["parent_id IS NULL"];
    const params: unknown[] = [];
    if (q.statuses?.length) {
      params.push([...q.statuses]);
      where.push(`status = ANY($${params.length}::text[])`);
    }
    if (q.search) {
      // A literal substring: the user's % and _ mean themselves. ILIKE: SQLite's LIKE ignores case too.
      params.push(`%${q.search.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`);
      where.push(`(name ILIKE $${params.length} ESCAPE '\\' OR id ILIKE $${params.length} ESCAPE '\\')`);
    }
    const sql = where.join(" AND ");
    const n = params.length;
    const [count, rows] = await Promise.all([
      this.readText<{ n: number }>(`SELECT COUNT(*) AS n FROM dispatches WHERE ${sql}`, params),
      this.readText<DispatchListRow>(
        `SELECT id, name, status, created_at AS "createdAt", started_at AS "startedAt", ended_at AS "endedAt", node_count AS "nodeCount",
           nodes_done AS "nodesDone" FROM dispatches WHERE ${sql} ORDER BY created_at DESC, id DESC LIMIT $${n + 1} OFFSET $${n + 2}`,
        [...params, q.limit, q.offset],
      ),
    ]);
    return { total: count.rows[0]?.n ?? 0, rows: rows.rows };
  }

  /** Postgres's own housekeeping (autovacuum) needs no hint. */
  checkpointSoon(): void {}

  /** Writes already issued land first; then both pools end, and the cluster's listeners and pool. A second call waits for the first. */
  close(): Promise<void> {
    this.closing ??= this.queue.then(async () => {
      this.ended = true;
      await Promise.all([this.reads.end(), this.writes.end(), this.cluster.close()]);
    });
    return this.closing;
  }
}

/** A bytea log as text. */
function text(v: Buffer | string | null): string | null {
  return v === null || typeof v === "string" ? v : v.toString("utf8");
}

/**
 * A node as it is now: the submitted one, or its state row over it (the output stays the
 * submitted one until it has its own), exactly as the SQLite driver builds it: field by
 * field, one object shape for every node.
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
