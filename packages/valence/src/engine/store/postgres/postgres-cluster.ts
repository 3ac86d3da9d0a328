/**
 * The Postgres driver's Cluster (../cluster.ts): several servers on one database.
 *
 * Leases. A server's row in `servers` is its lease, live while `expires_at`
 * is ahead of the database's clock (never a server's own). `join` writes it,
 * `heartbeat` moves it on, `leave` deletes it. A heartbeat and a claim are
 * ordered by a lock on the server's row, so they cannot both win:
 * - a heartbeat locks its row, then renews only if the lease has not run out;
 *   a lease that has run out stays out (the row is not brought back);
 * - `claimOrphans` share-locks the rows of the servers whose lease has run out
 *   (a heartbeat that got there first has renewed, and the row is checked again
 *   once the lock is granted), then takes their unfinished top-level
 *   dispatches, and those of servers whose row is gone, FOR UPDATE SKIP LOCKED:
 *   concurrent claims take different dispatches, and none waits for another.
 *   A heartbeat of a server being claimed from waits for the claim, then
 *   answers false. A caller whose own lease is not live takes nothing.
 * Expired rows stay (a claim returns them as `previous`; a dispatch locked by a
 * store transaction is skipped by one claim and taken by a later one). They go
 * when a server joins or leaves, once no unfinished top-level dispatch names them.
 * A dispatch with no server (server_id NULL: an embedded run) is never taken.
 *
 * Messages. `broadcast` sends a message as notifications on
 * `valence_<channel>` (pg_notify), split into parts that fit
 * (notify-messages.ts). Each `subscribe` listens on a connection of its own
 * (a pg.Client, not the pool); when that connection drops it connects again
 * with backoff, and a ping notices a connection that went silent. Messages sent
 * while it is down are lost. A server never gets its own messages.
 *
 * Bundles. `putBundle` keeps a dispatch's code bundle in `bundles` and
 * `bundle_parts` (schema version 4), as parts of at most BUNDLE_PART_BYTES,
 * all in one transaction: a reader sees a bundle whole or not at all. Its
 * contents are hashed as they go, and a sha256 that is not the bundle's name
 * rolls it back. `getBundle` reads the parts one statement at a time.
 *
 * The cluster's statements run on a small pool of its own: a heartbeat never
 * waits behind the store's writes. Bundles go on a second one, so that a
 * heartbeat does not wait behind the upload of a large bundle either.
 */
import { createHash } from "node:crypto";
import pg from "pg";
import type { Notification, QueryResult, QueryResultRow } from "pg";
import { StoreError } from "../../../errors.js";
import type { DispatchId, ServerId } from "../../../ids.js";
import type { ClaimedDispatch, Cluster, ClusterChannel, ServerRecord } from "../cluster.js";
import { maskUrl } from "./mask-url.js";
import { parsePart, Reassembly, splitMessage } from "./notify-messages.js";
import { listenFailure, storeFailure } from "./postgres-errors.js";
import { CLUSTER_SQL, type ClusterStatementName } from "./postgres-statements.js";

const CHANNELS: readonly ClusterChannel[] = ["changes", "commands"];

/** The largest part of a bundle one row holds (and one statement carries). */
export const BUNDLE_PART_BYTES = 1024 * 1024;

const BUNDLE_HASH = /^[0-9a-f]{64}$/;

/** The notification channel of a cluster channel. */
export const channelName = (channel: ClusterChannel): string => `valence_${channel}`;

/** What a listener tells about its connection (for a log line); `message` names the database with its password masked. */
export interface ListenerEvent {
  readonly channel: string;
  /** `lost`: its connection dropped (or stopped answering); `retry-failed`: connecting again failed; `reconnected`: listening again. */
  readonly kind: "lost" | "retry-failed" | "reconnected";
  readonly message: string;
}

export interface PostgresClusterOptions {
  readonly url: string;
  /** The store's data dir (named in a write failure's advice). */
  readonly dataDir: string;
  /** How long to wait for a connection (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** A statement that has not answered in this long fails (default 30 s): a heartbeat on a dead network does not hang. */
  readonly queryTimeoutMs?: number;
  /** A listener's first wait before connecting again; it doubles up to `reconnectMaxMs` (defaults 100 ms and 5 s). */
  readonly reconnectFirstMs?: number;
  readonly reconnectMaxMs?: number;
  /** A listener pings its connection this often, and drops it when a ping is not answered within `pingTimeoutMs` (defaults 15 s and 10 s). */
  readonly pingMs?: number;
  readonly pingTimeoutMs?: number;
  /** A message still missing parts this long after its first part is dropped (default 30 s). */
  readonly reassemblyTimeoutMs?: number;
  /** Told of listeners' lost connections and reconnections (default: nothing). */
  readonly onListenerEvent?: (event: ListenerEvent) => void;
}

/** A server's row as read: the record's fields (`startedAt` may come as text from int8). */
type ServerRow = { [K in keyof ServerRecord]: K extends "startedAt" ? number | string : ServerRecord[K] };

function serverRecord(r: ServerRow): ServerRecord {
  return { id: r.id, url: r.url, host: r.host, pid: r.pid, dataDir: r.dataDir, startedAt: Number(r.startedAt) };
}

const noop = (): void => undefined;

export class PostgresCluster implements Cluster {
  private readonly pool: pg.Pool;
  /** Bundles' reads and writes (a put holds its connection for the whole upload). */
  private readonly bundlePool: pg.Pool;
  private readonly listeners = new Set<Listener>();
  private closing: Promise<void> | undefined;
  private readonly where: string;
  /** Told of listeners' lost connections and reconnections; may be replaced (a server points it at its log). */
  onListenerEvent: (event: ListenerEvent) => void;

  constructor(private readonly opts: PostgresClusterOptions) {
    this.where = maskUrl(opts.url);
    this.onListenerEvent = opts.onListenerEvent ?? noop;
    // Two connections each: a heartbeat need not wait behind a claim or a broadcast, nor
    // behind a bundle of several MB, which has a pool of its own.
    this.pool = smallPool(opts, "valence cluster");
    this.bundlePool = smallPool(opts, "valence bundles");
  }

  async join(server: ServerRecord, ttlMs: number): Promise<void> {
    const ttl = this.ttl(ttlMs);
    await this.run("write", "clusterJoin", [server.id, server.url, server.host, server.pid, server.dataDir, server.startedAt, ttl]);
    await this.run("write", "clusterSweep", []);
  }

  async heartbeat(id: ServerId, ttlMs: number): Promise<boolean> {
    const ttl = this.ttl(ttlMs);
    return this.inTransaction(async (q) => {
      // The row first, locked: the check below then sees what a claim holding it decided, not what was before.
      if (!(await q("clusterLockServer", [id])).rowCount) return false;
      return (await q("clusterRenew", [id, ttl])).rowCount === 1;
    });
  }

  async leave(id: ServerId): Promise<void> {
    await this.run("write", "clusterLeave", [id]);
    await this.run("write", "clusterSweep", []);
  }

  async claim(id: ServerId, dispatch: DispatchId): Promise<boolean> {
    return (await this.run("write", "clusterClaim", [id, dispatch])).rowCount === 1;
  }

  async claimOrphans(id: ServerId, limit: number): Promise<ClaimedDispatch[]> {
    this.assertOpen();
    if (!Number.isInteger(limit) || limit < 0) throw new StoreError(`claimOrphans takes a count of dispatches, not ${String(limit)}`);
    if (limit === 0) return [];
    return this.inTransaction(async (q) => {
      const expired = (await q<{ id: string }>("clusterLockExpired", [id])).rows.map((r) => r.id);
      const rows = (await q<{ dispatch: DispatchId } & { [K in keyof ServerRow]: ServerRow[K] | null }>("clusterClaimOrphans", [id, expired, limit])).rows;
      return rows.map((r) => ({ id: r.dispatch, previous: r.id === null ? undefined : serverRecord(r as ServerRow) }));
    });
  }

  async serverOf(dispatch: DispatchId): Promise<ServerRecord | undefined> {
    const row = (await this.run<ServerRow>("read", "clusterServerOf", [dispatch])).rows[0];
    return row && serverRecord(row);
  }

  async servers(): Promise<ServerRecord[]> {
    return (await this.run<ServerRow>("read", "clusterServers", [])).rows.map(serverRecord);
  }

  async broadcast(channel: ClusterChannel, from: ServerId, payload: unknown): Promise<void> {
    const name = this.channel(channel);
    const json = JSON.stringify(payload);
    if (typeof json !== "string") throw new StoreError(`a message on ${name} must be JSON; ${typeof payload} is not`);
    await this.run("write", "clusterNotify", [name, splitMessage(from, json)]);
  }

  async subscribe(channel: ClusterChannel, self: ServerId, onMessage: (payload: unknown, from: ServerId) => void): Promise<() => Promise<void>> {
    const name = this.channel(channel);
    this.assertOpen();
    const listener = new Listener(this.opts, name, self, onMessage, (e) => this.onListenerEvent(e));
    this.listeners.add(listener);
    try {
      await listener.start();
    } catch (error) {
      this.listeners.delete(listener);
      await listener.stop();
      throw error;
    }
    return async () => {
      this.listeners.delete(listener);
      await listener.stop();
    };
  }

  async putBundle(hash: string, bytes: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
    try {
      if (!BUNDLE_HASH.test(hash)) throw new StoreError(`"${hash}" is not a bundle hash (64 lowercase hex digits, the sha256 of its contents)`);
      if (await this.hasBundle(hash)) return;
      await this.putNewBundle(hash, bytes);
    } finally {
      // A file stream not read to its end (the bundle was kept already) would hold its file open.
      (bytes as { destroy?: () => void }).destroy?.();
    }
  }

  private async putNewBundle(hash: string, bytes: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
    await this.inTransaction(async (q) => {
      // Another server kept it meanwhile (or keeps it now: this waited for it to commit).
      if ((await q("bundleBegin", [hash])).rowCount === 0) return;
      const sha = createHash("sha256");
      let size = 0;
      let parts = 0;
      for await (const part of bundleParts(bytes)) {
        sha.update(part);
        await q("bundlePart", [hash, parts++, part]);
        size += part.length;
      }
      const actual = sha.digest("hex");
      if (actual !== hash) throw new StoreError(`the bundle's sha256 is ${actual}, not ${hash} as its name says; it was not kept`);
      await q("bundleEnd", [hash, size, parts]);
    }, this.bundlePool);
  }

  async hasBundle(hash: string): Promise<boolean> {
    if (!BUNDLE_HASH.test(hash)) return false;
    return ((await this.run("read", "bundleHead", [hash], this.bundlePool)).rowCount ?? 0) > 0;
  }

  async getBundle(hash: string): Promise<Buffer | undefined> {
    if (!BUNDLE_HASH.test(hash)) return undefined;
    const head = (await this.run<{ size: string | number; parts: number }>("read", "bundleHead", [hash], this.bundlePool)).rows[0];
    if (!head) return undefined;
    // Parts are read one at a time into the one buffer: a large bundle is never held twice.
    const out = Buffer.allocUnsafe(Number(head.size));
    let at = 0;
    for (let part = 0; part < head.parts; part++) {
      const row = (await this.run<{ bytes: Buffer }>("read", "bundleReadPart", [hash, part], this.bundlePool)).rows[0];
      if (!row || at + row.bytes.length > out.length) throw new StoreError(`bundle ${hash} in ${this.where} is damaged: part ${part} of ${head.parts} is ${row ? "too long" : "missing"}`);
      row.bytes.copy(out, at);
      at += row.bytes.length;
    }
    const actual = createHash("sha256").update(out.subarray(0, at)).digest("hex");
    if (at !== out.length || actual !== hash) throw new StoreError(`bundle ${hash} in ${this.where} is damaged: its parts hash to ${actual}`);
    return out;
  }

  /** Stops every listener and ends the pools. A second call waits for the first. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const listeners = [...this.listeners];
      this.listeners.clear();
      await Promise.all(listeners.map((l) => l.stop()));
      await Promise.all([this.pool.end().catch(noop), this.bundlePool.end().catch(noop)]);
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new StoreError(`the Postgres store ${this.where} is closed`);
  }

  private ttl(ttlMs: number): number {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new StoreError(`a server's lease lasts a positive number of milliseconds, not ${String(ttlMs)}`);
    return Math.ceil(ttlMs);
  }

  private channel(channel: ClusterChannel): string {
    if (!CHANNELS.includes(channel)) throw new StoreError(`there is no cluster channel ${JSON.stringify(channel)}: there are ${CHANNELS.join(" and ")}`);
    return channelName(channel);
  }

  /** One statement on the pool, its failure said in words. */
  private async run<R extends QueryResultRow>(doing: "read" | "write", name: ClusterStatementName, values: unknown[], pool = this.pool): Promise<QueryResult<R>> {
    this.assertOpen();
    try {
      return await pool.query<R>({ name, text: CLUSTER_SQL[name], values });
    } catch (error) {
      throw storeFailure(error, this.opts.url, this.opts.dataDir, doing);
    }
  }

  /** `fn`'s statements as one transaction on one connection of `pool`. */
  private async inTransaction<T>(
    fn: (q: <R extends QueryResultRow>(name: ClusterStatementName, values: unknown[]) => Promise<QueryResult<R>>) => Promise<T>,
    pool = this.pool,
  ): Promise<T> {
    this.assertOpen();
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw storeFailure(error, this.opts.url, this.opts.dataDir, "write");
    }
    let lost = false;
    const onLost = () => {
      lost = true;
    };
    client.on("error", onLost);
    let doing: "write" | "commit" = "write";
    try {
      await client.query("BEGIN");
      const out = await fn((name, values) => client.query({ name, text: CLUSTER_SQL[name], values }));
      doing = "commit";
      await client.query("COMMIT");
      return out;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {
        lost = true;
      });
      throw storeFailure(error, this.opts.url, this.opts.dataDir, doing);
    } finally {
      client.off("error", onLost);
      client.release(lost || undefined);
    }
  }
}

/** `bytes` as parts of at most BUNDLE_PART_BYTES: a stream's chunks gathered (or split) to that size. */
async function* bundleParts(bytes: Uint8Array | AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  if (bytes instanceof Uint8Array) {
    for (let at = 0; at < bytes.length; at += BUNDLE_PART_BYTES) yield Buffer.from(bytes.buffer, bytes.byteOffset + at, Math.min(BUNDLE_PART_BYTES, bytes.length - at));
    return;
  }
  let held: Buffer[] = [];
  let heldBytes = 0;
  for await (const chunk of bytes) {
    let rest = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (heldBytes + rest.length >= BUNDLE_PART_BYTES) {
      const take = BUNDLE_PART_BYTES - heldBytes;
      yield Buffer.concat([...held, rest.subarray(0, take)]);
      held = [];
      heldBytes = 0;
      rest = rest.subarray(take);
    }
    if (rest.length) {
      // Copied: a stream may reuse the memory of a chunk it has handed on.
      held.push(Buffer.from(rest));
      heldBytes += rest.length;
    }
  }
  if (heldBytes) yield Buffer.concat(held);
}

/**
 * One subscription: a connection of its own that LISTENs on one channel, connected again with
 * backoff when it drops, and pinged so that one that went silent (no reset ever came) is noticed.
 */
class Listener {
  private client: pg.Client | undefined;
  /** The connection being made, if one is (stop waits for it). */
  private connecting: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private ping: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private readonly reassembly: Reassembly;

  constructor(
    private readonly opts: PostgresClusterOptions,
    private readonly channel: string,
    private readonly self: ServerId,
    private readonly onMessage: (payload: unknown, from: ServerId) => void,
    private readonly tell: (event: ListenerEvent) => void,
  ) {
    this.reassembly = new Reassembly(opts.reassemblyTimeoutMs);
  }

  /** Listening, or rejected in words (the first connection is not retried: the caller hears why). */
  async start(): Promise<void> {
    await this.connectOnce();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.ping);
    this.reassembly.clear();
    await this.connecting?.catch(noop);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(noop);
  }

  private connectOnce(): Promise<void> {
    const connecting = this.connect().finally(() => {
      if (this.connecting === connecting) this.connecting = undefined;
    });
    this.connecting = connecting;
    return connecting;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.opts.url,
      connectionTimeoutMillis: this.opts.connectTimeoutMs ?? 10_000,
      application_name: `valence listen ${this.channel}`,
      keepAlive: true,
    });
    // Heard before connecting: an error on a client nobody hears would end the process.
    client.on("error", (error) => this.lost(client, error));
    client.on("end", () => this.lost(client, undefined));
    client.on("notification", (n) => this.receive(client, n));
    try {
      await client.connect();
      // A fixed name from channelName, not the caller's text.
      await client.query(`LISTEN ${this.channel}`);
    } catch (error) {
      client.end().catch(noop);
      throw listenFailure(error, this.opts.url, this.channel);
    }
    if (this.stopped) {
      await client.end().catch(noop);
      return;
    }
    this.client = client;
    this.failures = 0;
    this.startPing(client);
  }

  private startPing(client: pg.Client): void {
    const every = this.opts.pingMs ?? 15_000;
    const within = this.opts.pingTimeoutMs ?? 10_000;
    let inFlight = false;
    this.ping = setInterval(() => {
      if (inFlight || client !== this.client) return;
      inFlight = true;
      let timer: NodeJS.Timeout | undefined;
      const silent = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the connection did not answer a ping within ${within} ms`)), within);
      });
      Promise.race([client.query("SELECT 1"), silent])
        .then(noop, (error: unknown) => this.lost(client, error))
        .finally(() => {
          clearTimeout(timer);
          inFlight = false;
        });
    }, every);
    // The connection keeps the process alive while it is open; its ping need not.
    this.ping.unref();
  }

  private receive(client: pg.Client, n: Notification): void {
    if (client !== this.client || this.stopped || n.channel !== this.channel || n.payload === undefined) return;
    const part = parsePart(n.payload);
    // Not ours (someone else's NOTIFY on the channel), or this server's own.
    if (!part || part.from === this.self) return;
    const whole = this.reassembly.add(part);
    if (!whole) return;
    let payload: unknown;
    try {
      payload = JSON.parse(whole.json);
    } catch {
      return;
    }
    try {
      this.onMessage(payload, whole.from as ServerId);
    } catch {
      // The subscriber's own failure: it must not stop the listening (the subscriber reports its errors).
    }
  }

  /** The connection `client` dropped or went silent: let it go, and connect again after a wait. */
  private lost(client: pg.Client, error: unknown): void {
    if (client !== this.client || this.stopped) return;
    this.client = undefined;
    clearInterval(this.ping);
    // Parts that were on their way are not coming any more.
    this.reassembly.clear();
    client.end().catch(noop);
    const why = listenFailure(error ?? new Error("Connection terminated"), this.opts.url, this.channel).message;
    this.tell({ channel: this.channel, kind: "lost", message: why });
    this.reconnectLater();
  }

  private reconnectLater(): void {
    const first = this.opts.reconnectFirstMs ?? 100;
    const max = this.opts.reconnectMaxMs ?? 5_000;
    // Doubling, with jitter, so servers that lost the database together do not all come back at one instant.
    const wait = Math.min(max, first * 2 ** Math.min(this.failures, 30)) * (0.5 + Math.random() / 2);
    this.failures++;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.stopped) return;
      this.connectOnce().then(
        () => {
          if (!this.stopped) this.tell({ channel: this.channel, kind: "reconnected", message: `listening again on ${this.channel} of ${maskUrl(this.opts.url)}` });
        },
        (error: unknown) => {
          if (this.stopped) return;
          this.tell({ channel: this.channel, kind: "retry-failed", message: (error as Error).message });
          this.reconnectLater();
        },
      );
    }, wait);
  }
}

/** A pool of two connections. An idle one that drops is replaced by the pool; a query that meets it fails in words. */
function smallPool(opts: PostgresClusterOptions, name: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    query_timeout: opts.queryTimeoutMs ?? 30_000,
    application_name: name,
    max: 2,
    allowExitOnIdle: true,
  });
  pool.on("error", noop);
  return pool;
}
