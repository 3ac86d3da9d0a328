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
 * - A connection that drops (Postgres restarted, a failover, a network blip,
 *   pg_terminate_backend) fails nothing at once. A read, a write, or a
 *   transaction's first steps that meet a connection failure
 *   (isConnectionFailure: reset, refused, terminated, SQLSTATE 57P01-3 and 08xxx)
 *   are tried again on a new connection after a wait (reconnectFirstMs, doubling
 *   with jitter up to reconnectMaxMs) until the database has been unreachable for
 *   reconnectLimitMs; then they fail in words (unreachableFailure). Any other
 *   failure is the statement's own and fails at once. Writes still commit in the
 *   order issued: the queue waits for the one being tried again.
 * - Exactly once: each write has an id (a UUID), claimed in `write_ids` in the
 *   round trip of its BEGIN. A try that failed at its COMMIT may have committed;
 *   the next try's claim finds the id (committed: done) or takes it (not: applied
 *   again). The id's primary key settles a race with an earlier try still open on
 *   the server: the claim waits for it. Ids older than writeIdsKeepMs are deleted
 *   every writeIdsPruneEvery writes, and at open.
 * - `transaction(fn)` is tried again only until `fn` is called: `fn` may act on
 *   what it reads (counters, lists of changes), so it is never run twice. When the
 *   COMMIT after it is not confirmed, the store finds out by the transaction's id
 *   whether it committed: it then returns `fn`'s result, or fails saying nothing
 *   was stored. A connection lost while `fn` runs fails the transaction.
 */
import { PostgresTriggers } from "./postgres-triggers.js";
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { QueryResult, QueryResultRow } from "pg";
import { StoreError } from "../../../errors.js";
import type { CacheKey, DispatchId } from "../../../ids.js";
import type { Status } from "../../../status.js";
import { decodeEdges, decodeNodes } from "../graph-codec.js";
import { withState, type NodeState } from "../node-state.js";
import { RecordedWrites } from "../recorded-writes.js";
import type { DispatchRecord, EdgeRecord, EventRecord, NodeRecord } from "../records.js";
import type { CacheEntry, CacheHit, DispatchListRow, DispatchQuery, LiveChunkRecord, NodeLogs, Store, StoreTx, StoreWrites } from "../store.js";
import { maskUrl, targetOf } from "./mask-url.js";
import { Checkout, type Reconnect, type WriteTries } from "./postgres-checkout.js";
import { PostgresCluster } from "./postgres-cluster.js";
import { earlierTryOpen, isConnectionFailure, openError, storeFailure, unreachableFailure, type GaveUpOn } from "./postgres-errors.js";
import { migratePostgres } from "./postgres-schema.js";
import { beginWrite, claimResult, SQL, type StatementName } from "./postgres-statements.js";
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
  /**
   * How long reads and writes keep trying again while the database is unreachable (their
   * connection failed: reset, refused, ended by the server) before they fail in words (default
   * 30 s; 0: never try again). The last try may take up to `connectTimeoutMs` more.
   */
  readonly reconnectLimitMs?: number;
  /** The first wait before trying again; each wait doubles, with jitter, up to `reconnectMaxMs` (defaults 50 ms and 2 s). */
  readonly reconnectFirstMs?: number;
  readonly reconnectMaxMs?: number;
  /** Told of each try that failed and is tried again (default: nothing). */
  readonly onRetry?: (event: StoreRetryEvent) => void;
  /**
   * How long a write's id is kept after its commit, so that a retry of it finds it (default 1 h;
   * never less than twice `reconnectLimitMs`), and after how many writes the older ones are
   * deleted (default 1000). A write must not take longer than this to be tried and tried again.
   */
  readonly writeIdsKeepMs?: number;
  readonly writeIdsPruneEvery?: number;
}

/** A try of a read or a write failed with a connection failure and is tried again after `waitMs` (for a log line). */
export interface StoreRetryEvent {
  readonly doing: "read" | "write" | "transaction";
  /** The tries that failed so far. */
  readonly tries: number;
  readonly waitMs: number;
  /** How long the database has been unreachable. */
  readonly downMs: number;
  /** The failure, in words, the password masked. */
  readonly message: string;
}

/** A node's row in `node_states`, as read (logs are bytea). */
type StateRow = Pick<NodeRecord, "nodeId" | "status" | "output" | "outputFile" | "error" | "startedAt" | "endedAt" | "lane" | "retryAt"> & {
  readonly attempts: number | null;
  readonly cachedFrom: string | null;
  stdout: Buffer | string | null;
  stderr: Buffer | string | null;
};

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
   * committed key never changes (graphs rows are only deleted with their dispatch, whose key is then forgotten).
   */
  private readonly keys = new Map<string, number>();
  /** Every write and transaction, in the order issued: each starts when the one before has settled. */
  private queue: Promise<unknown> = DONE;
  private closing: Promise<void> | undefined;
  /** Set once the pools have ended: a read then is refused in words rather than by pg. */
  private ended = false;
  /** The store's URL with the password masked: what messages name. */
  private readonly where: string;
  /** Since when the database has been unreachable: the first connection failure since the last success. */
  private downSince: number | undefined;
  /** Writes committed since the last prune of `write_ids`. */
  private sincePrune = 0;
  /** Told of each try that failed and is tried again; may be replaced (a server points it at its log). */
  onRetry: (event: StoreRetryEvent) => void;
  readonly triggers: PostgresTriggers;

  private constructor(
    readonly dataDir: string,
    private readonly url: string,
    private readonly reads: pg.Pool,
    private readonly writes: pg.Pool,
    /** Leases and messages between the servers sharing the database (postgres-cluster.ts), on a pool of its own. */
    readonly cluster: PostgresCluster,
    private readonly reconnect: Reconnect,
    onRetry: ((event: StoreRetryEvent) => void) | undefined,
  ) {
    this.where = maskUrl(url);
    this.onRetry = onRetry ?? (() => undefined);
    this.triggers = new PostgresTriggers(async (doing, text, values) => {
      if (doing === "read") return this.readText(text, values);
      // Each trigger write is one statement that can be applied twice (postgres-triggers.ts): tried again like reads.
      return this.reconnecting(
        "write",
        async () => {
          this.assertOpen();
          try {
            return await this.writes.query(text, values);
          } catch (error) {
            throw storeFailure(error, this.url, this.dataDir, "write");
          }
        },
        // One statement, no write id: a try that reached the database may have committed.
        () => "write-in-doubt",
      );
    });
  }

  /** Connects, creates or upgrades the tables (see postgres-schema.ts), and returns the store. */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    if (!targetOf(opts.url)) {
      throw new StoreError(`the store URL ${maskUrl(opts.url)} is not a Postgres URL: write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE`);
    }
    mkdirSync(opts.dataDir, { recursive: true });
    const timeoutMs = opts.connectTimeoutMs ?? 10_000;
    const limitMs = nonNegative(opts.reconnectLimitMs, 30_000, "reconnectLimitMs");
    const reconnect: Reconnect = {
      limitMs,
      firstMs: Math.max(1, nonNegative(opts.reconnectFirstMs, 50, "reconnectFirstMs")),
      maxMs: Math.max(1, nonNegative(opts.reconnectMaxMs, 2_000, "reconnectMaxMs")),
      // An id must outlive every retry of its write.
      keepIdsMs: Math.max(nonNegative(opts.writeIdsKeepMs, 3_600_000, "writeIdsKeepMs"), 2 * limitMs),
      pruneEvery: Math.max(1, Math.floor(nonNegative(opts.writeIdsPruneEvery, 1_000, "writeIdsPruneEvery"))),
    };
    const config: pg.PoolConfig = {
      connectionString: opts.url,
      types: TYPES,
      connectionTimeoutMillis: timeoutMs,
      application_name: "valence",
      // A peer that went away without a word is found out in time, not never.
      keepAlive: true,
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
      // Ids no retry can come for any more, left by earlier runs.
      await client.query({ name: "pruneWriteIds", text: SQL.pruneWriteIds, values: [reconnect.keepIdsMs] });
      client.release();
    } catch (error) {
      client.release(true);
      await end();
      throw openError(error, opts.url, timeoutMs);
    }
    const cluster = new PostgresCluster({ url: opts.url, dataDir: opts.dataDir, connectTimeoutMs: timeoutMs });
    return new PostgresStore(opts.dataDir, opts.url, reads, writes, cluster, reconnect, opts.onRetry);
  }

  write(fill: (w: StoreWrites) => void): Promise<void> {
    const recorded = new RecordedWrites();
    try {
      this.assertOpen();
      fill(recorded);
    } catch (error) {
      return Promise.reject(error);
    }
    const id = randomUUID();
    return this.enqueue(async () => {
      // Nothing to write, but it still settles after the writes issued before it.
      if (!recorded.ops.length) return;
      const tries: WriteTries = { inDoubt: false };
      await this.reconnecting(
        "write",
        (retry, remainingMs) => this.writeOnce(id, recorded, tries, retry ? remainingMs : undefined),
        () => (tries.inDoubt ? "write-in-doubt" : "write"),
      );
      this.wrote();
    });
  }

  /**
   * One try of a write: BEGIN and the claim of its id, the recorded writes, COMMIT, on the write
   * connection; ROLLBACK when anything throws. A claim that finds the id committed (by an earlier
   * try whose COMMIT was never confirmed) ends the write there. `lockWaitMs`: a retry, see beginWrite.
   */
  private async writeOnce(id: string, recorded: RecordedWrites, tries: WriteTries, lockWaitMs: number | undefined): Promise<void> {
    const c = await this.checkout();
    try {
      if (!(await this.claim(c, id, lockWaitMs))) {
        tries.inDoubt = false;
        await c.rollback();
        return;
      }
      tries.inDoubt = false;
      const write = new PostgresWrite(this.on(c.client, "write"), this.keys, this.where);
      await write.apply(recorded.ops);
      await this.commit(c, tries);
      for (const [dispatch, key] of write.learned) this.keys.set(dispatch, key);
      for (const dispatch of write.forgotten) this.keys.delete(dispatch);
    } catch (error) {
      await c.rollback();
      throw error;
    } finally {
      c.release();
    }
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    try {
      this.assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.enqueue(async () => {
      const id = randomUUID();
      // Tried again only up to here: `fn` has not run yet.
      const c = await this.reconnecting(
        "transaction",
        async (retry, remainingMs) => {
          const c = await this.checkout();
          try {
            // Nothing of an earlier try (never past this step) can have committed: the id is always claimed.
            await this.claim(c, id, retry ? remainingMs : undefined);
            return c;
          } catch (error) {
            await c.rollback();
            c.release();
            throw error;
          }
        },
        () => "transaction",
      );
      const recorded = new RecordedWrites();
      const tries: WriteTries = { inDoubt: false };
      let out: T;
      let write: PostgresWrite;
      let failed = false;
      let failure: unknown;
      try {
        const on = this.on(c.client, "read");
        const tx: StoreTx = Object.assign(recorded, {
          // Locked until the transaction ends: another server's owner check waits for this one.
          getDispatch: async (id: string) => (await on<DispatchRecord>("getDispatchForUpdate", [id])).rows[0],
          getNodes: async (id: DispatchId) => this.nodeRows(c.client, id),
          childDispatches: async (id: DispatchId) => (await on<DispatchRecord>("children", [id])).rows,
        });
        out = await fn(tx);
        write = new PostgresWrite(this.on(c.client, "write"), this.keys, this.where);
        await write.apply(recorded.ops);
        await this.commit(c, tries);
      } catch (error) {
        failed = true;
        failure = error;
        await c.rollback();
      } finally {
        c.release();
      }
      if (failed) {
        if (!tries.inDoubt) throw failure;
        // The COMMIT was sent and never confirmed: found out by the id. Not committed: nothing of it was stored, said so.
        if (!(await this.committed(id))) throw storeFailure(tries.commitError, this.url, this.dataDir, "write");
      }
      for (const [dispatch, key] of write!.learned) this.keys.set(dispatch, key);
      for (const dispatch of write!.forgotten) this.keys.delete(dispatch);
      this.wrote();
      return out!;
    });
  }

  /**
   * Whether the transaction `id` committed, when its COMMIT was never confirmed: its id is
   * claimed on a new connection and rolled back. Found: it committed. Claimed: it did not, and
   * cannot any more (a try still open on the server would have made the claim wait for it).
   */
  private async committed(id: string): Promise<boolean> {
    return this.reconnecting(
      "transaction",
      async (_retry, remainingMs) => {
        const c = await this.checkout();
        try {
          return !(await this.claim(c, id, remainingMs));
        } finally {
          await c.rollback();
          c.release();
        }
      },
      () => "transaction-in-doubt",
    );
  }

  /** The write connection, checked out; a failure to connect said in words. */
  private async checkout(): Promise<Checkout> {
    this.assertNotEnded();
    try {
      return new Checkout(await this.writes.connect());
    } catch (error) {
      throw storeFailure(error, this.url, this.dataDir, "write");
    }
  }

  /** BEGIN and the claim of the write's id, in one round trip (beginWrite); false: the id was there, committed. */
  private async claim(c: Checkout, id: string, lockWaitMs: number | undefined): Promise<boolean> {
    const wait = lockWaitMs === undefined ? undefined : Math.max(100, Math.min(lockWaitMs, 5_000));
    let results: QueryResult[];
    try {
      results = (await c.client.query(beginWrite(id, wait))) as unknown as QueryResult[];
    } catch (error) {
      if (wait !== undefined && (error as { code?: unknown }).code === "55P03") throw earlierTryOpen(this.url, wait);
      throw storeFailure(error, this.url, this.dataDir, "write");
    }
    // The claim's own result, or the write would be taken for done when it is not.
    const r = Array.isArray(results) ? results[claimResult(wait !== undefined)] : undefined;
    if (r?.command !== "INSERT") throw new StoreError(`the Postgres store ${this.where} did not answer a write's claim of its id as expected: nothing of this write was stored`);
    return r.rowCount === 1;
  }

  /** COMMIT; one that fails on the connection leaves the write in doubt (it may have landed). */
  private async commit(c: Checkout, tries: WriteTries): Promise<void> {
    try {
      await c.client.query("COMMIT");
    } catch (error) {
      tries.inDoubt = isConnectionFailure(error);
      tries.commitError = error;
      throw storeFailure(error, this.url, this.dataDir, "commit");
    }
  }

  /**
   * Runs `attempt` until it succeeds, fails with what is not a connection failure (that passes
   * as it is), or the database has been unreachable for the limit: since this call's first
   * failure, or since the first failure of any read or write after the last success, whichever
   * is earlier (so writes queued behind one that gave up do not each wait the limit again).
   * Each retry waits `reconnectFirstMs` doubling up to `reconnectMaxMs`, each wait between half
   * and all of that (jitter: servers that lost one database do not all come back at once).
   * `attempt` is told whether it is a retry, and how long is left.
   */
  private async reconnecting<T>(
    doing: StoreRetryEvent["doing"],
    attempt: (retry: boolean, remainingMs: number) => Promise<T>,
    gaveUp: () => GaveUpOn,
  ): Promise<T> {
    const { limitMs, firstMs, maxMs } = this.reconnect;
    let first: number | undefined;
    for (let tries = 1; ; tries++) {
      try {
        const out = await attempt(tries > 1, first === undefined ? limitMs : limitMs - (Date.now() - Math.min(first, this.downSince ?? first)));
        this.downSince = undefined;
        return out;
      } catch (error) {
        if (limitMs <= 0 || !isConnectionFailure(error)) throw error;
        const now = Date.now();
        first ??= now;
        this.downSince ??= now;
        const downMs = now - Math.min(first, this.downSince);
        // Closed meanwhile: said so, not that the database is down.
        this.assertNotEnded();
        if (downMs >= limitMs) throw unreachableFailure(error, this.url, downMs, tries, gaveUp());
        const step = Math.min(maxMs, firstMs * 2 ** Math.min(tries - 1, 30));
        const waitMs = Math.min(Math.round(step / 2 + Math.random() * (step / 2)), limitMs - downMs);
        try {
          this.onRetry({ doing, tries, waitMs, downMs, message: error instanceof Error ? error.message : String(error) });
        } catch {
          /* a listener's failure is not the store's */
        }
        await sleep(waitMs);
      }
    }
  }

  /** A write committed: every `writeIdsPruneEvery` of them, the ids no retry can come for any more are deleted (in the queue, between writes). */
  private wrote(): void {
    if (++this.sincePrune < this.reconnect.pruneEvery || this.closing) return;
    this.sincePrune = 0;
    void this.enqueue(async () => {
      try {
        await this.writes.query({ name: "pruneWriteIds", text: SQL.pruneWriteIds, values: [this.reconnect.keepIdsMs] });
      } catch {
        /* the next prune does it */
      }
    });
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

  /** A read on the read pool, tried again while the database is unreachable. */
  private read<R extends QueryResultRow>(name: StatementName, values: unknown[]): Promise<QueryResult<R>> {
    return this.reading(() => this.on(this.reads, "read")<R>(name, values));
  }

  /** `attempt`, tried again on connection failures (see reconnecting). */
  private reading<T>(attempt: () => Promise<T>): Promise<T> {
    return this.reconnecting("read", attempt, () => "read");
  }

  /** A query whose text is built per call (the dashboard's search), on the read pool. */
  private readText<R extends QueryResultRow>(text: string, values: unknown[]): Promise<QueryResult<R>> {
    return this.reading(async () => {
      this.assertNotEnded();
      try {
        return await this.reads.query<R>(text, values);
      } catch (error) {
        throw storeFailure(error, this.url, this.dataDir, "read");
      }
    });
  }

  async getDispatch(id: string): Promise<DispatchRecord | undefined> {
    return (await this.read<DispatchRecord>("getDispatch", [id])).rows[0];
  }

  async getNodes(id: DispatchId): Promise<NodeRecord[]> {
    return this.reading(() => this.nodeRows(this.reads, id));
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

  async getNodeLogs(id: DispatchId, node: number): Promise<NodeLogs | undefined> {
    const r = (await this.read<{ status: Status; stdout: Buffer | null; stderr: Buffer | null; attempts: number; retryAt: number | null }>("nodeLogs", [id, node])).rows[0];
    return r && { status: r.status, stdout: text(r.stdout), stderr: text(r.stderr), attempts: Number(r.attempts), retryAt: r.retryAt };
  }

  async getLiveOutput(id: DispatchId, node: number | null, after = 0): Promise<LiveChunkRecord[]> {
    const rows =
      node === null
        ? (await this.read<LiveRow>("liveOfDispatch", [id, after])).rows
        : (await this.read<LiveRow>("liveOfNode", [id, node, after])).rows;
    return rows.map((r) => ({ id: r.id, node: r.node, stream: r.stream, text: text(r.text) ?? "", at: r.at }));
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

  async cacheLookup(key: CacheKey, now: number): Promise<CacheHit | undefined> {
    const row = (await this.read<CacheEntry & { output: string | null; outputFile: string | null }>("cacheLookup", [key, now])).rows[0];
    if (!row) return undefined;
    const { output, outputFile, ...entry } = row;
    const encoded = await this.readOutput({ output, outputFile });
    return encoded === null ? undefined : { entry, encoded };
  }

  async cacheEntries(): Promise<CacheEntry[]> {
    return (await this.read<CacheEntry>("cacheEntries", [])).rows;
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

/** An option's value, or its default; a negative or non-number one is refused in words. */
function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= 0)) throw new StoreError(`the Postgres store's ${name} must be a number of milliseconds (or a count) of at least 0, not ${String(value)}`);
  return value;
}

/** A bytea log as text. */
type LiveRow = Omit<LiveChunkRecord, "text"> & { text: Buffer };

function text(v: Buffer | string | null): string | null {
  return v === null || typeof v === "string" ? v : v.toString("utf8");
}
