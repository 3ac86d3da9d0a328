// The Postgres driver's Cluster (postgres-cluster.ts) against a real Postgres, one fresh database
// per test: servers joining and leaving, leases running out by the database's clock, claims of
// orphaned dispatches (concurrent ones too), and messages between servers (large ones, a dropped
// or silent listening connection, unsubscribing), code bundles kept for the team (idempotent, large
// ones in parts, missing ones undefined). And the migration that added it keeps what was stored.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect as connectTcp, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { Readable } from "node:stream";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { newDispatchId, newServerId, type DispatchId, type ServerId } from "../../../ids.js";
import type { ServerRecord } from "../cluster.js";
import { encodeNodes } from "../graph-codec.js";
import { dispatchRecord, nodeRecord } from "../test-support/store-contract.js";
import type { DispatchRecord } from "../records.js";
import { NOTIFICATION_BYTES, parsePart, Reassembly, splitMessage } from "./notify-messages.js";
import { BUNDLE_PART_BYTES, PostgresCluster, type ListenerEvent } from "./postgres-cluster.js";
import { migratePostgres, PG_SCHEMA_VERSION } from "./postgres-schema.js";
import { PostgresStore } from "./postgres-store.js";
import { startTestPostgres, type TestPostgres } from "./test-support/test-postgres.js";

const SECRET = "hunter2-do-not-show";
/** A long lease: one that does not run out during a test. */
const LONG = 60_000;

let server: TestPostgres;
const dirs: string[] = [];
const closers: Array<() => Promise<unknown>> = [];

before(async () => {
  server = await startTestPostgres();
});

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await server?.stop();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "valence-pgcluster-"));
  dirs.push(d);
  return d;
}

/** The URL with a password in it (trust authentication never asks for it): to check that nothing shows it. */
function withSecret(url: string): string {
  const u = new URL(url);
  u.password = SECRET;
  return u.toString();
}

async function open(url: string): Promise<PostgresStore> {
  const store = await PostgresStore.open({ url, dataDir: tempDir() });
  closers.push(() => store.close());
  return store;
}

/** Two stores on one fresh database: two servers. */
async function fresh(): Promise<{ a: PostgresStore; b: PostgresStore; url: string; db: string }> {
  const { name, url } = await server.freshDatabase();
  const secretUrl = withSecret(url);
  return { a: await open(secretUrl), b: await open(secretUrl), url: secretUrl, db: name };
}

function serverRecord(startedAt: number, over: Partial<ServerRecord> = {}): ServerRecord {
  const id = newServerId();
  return { id, url: `http://10.0.0.${startedAt % 250}:8000`, host: `host-${id}`, pid: 1000 + (startedAt % 1000), dataDir: `/data/${id}`, startedAt, ...over };
}

/** `n` top-level dispatches stored, each driven by `by` (if given). */
async function dispatches(store: PostgresStore, n: number, by?: ServerId, over: Partial<DispatchRecord> = {}): Promise<DispatchId[]> {
  const ids = Array.from({ length: n }, () => newDispatchId());
  await store.write((w) => {
    ids.forEach((id, i) => w.insertDispatch(dispatchRecord(id, `/r/${id}`, { nodeCount: 1, createdAt: 1 + i, ...over }), [nodeRecord(0)], []));
  });
  if (by) for (const id of ids) assert.equal(await store.cluster.claim(by, id), true);
  return ids;
}

/** Polls `check` until it holds (a generous wait: what it waits for happens in milliseconds). */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`waited ${ms} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until `id`'s lease has run out by the database's clock. */
async function expired(store: PostgresStore, id: ServerId): Promise<void> {
  await waitFor(`the lease of ${id} to run out`, async () => !(await store.cluster.servers()).some((s) => s.id === id));
}

/** The backends listening on `channel` in `db` (their application name says so). */
async function listeners(db: string, channel = "valence_changes"): Promise<number[]> {
  const out = await server.psql(`SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE datname = '${db}' AND application_name = 'valence listen ${channel}'`, db);
  return out ? out.split(",").map(Number) : [];
}

/** A subscription that records what it gets. */
async function record(store: PostgresStore, self: ServerId, channel: "changes" | "commands" = "changes") {
  const got: Array<{ payload: unknown; from: ServerId }> = [];
  const stop = await store.cluster.subscribe(channel, self, (payload, from) => got.push({ payload, from }));
  closers.push(stop);
  return { got, stop };
}

describe("PostgresCluster", () => {
  describe("leases", () => {
    it("two servers join and are listed oldest first, with their records as given", async () => {
      const { a, b } = await fresh();
      const older = serverRecord(1_000);
      const newer = serverRecord(2_000);
      await b.cluster.join(newer, LONG);
      await a.cluster.join(older, LONG);
      assert.deepEqual(await a.cluster.servers(), [older, newer]);
      assert.deepEqual(await b.cluster.servers(), [older, newer], "both see the one table");
      // A row left by an earlier start with the same id is replaced.
      const moved = { ...older, url: "http://elsewhere:9000", pid: 4242 };
      await a.cluster.join(moved, LONG);
      assert.deepEqual(await b.cluster.servers(), [moved, newer]);
      assert.equal(await a.cluster.heartbeat(older.id, LONG), true);
      assert.equal(await a.cluster.heartbeat(newServerId(), LONG), false, "a server that never joined has no lease to renew");
    });

    it("claim marks who drives a dispatch, serverOf names it while its lease is live; a dispatch not stored is refused", async () => {
      const { a, b } = await fresh();
      const sa = serverRecord(1);
      await a.cluster.join(sa, LONG);
      const [id, other] = (await dispatches(a, 2)) as [DispatchId, DispatchId];
      assert.equal(await b.cluster.serverOf(id), undefined, "no server drives it yet");
      assert.equal(await a.cluster.claim(sa.id, id), true);
      assert.deepEqual(await b.cluster.serverOf(id), sa);
      assert.equal(await b.cluster.serverOf(other), undefined);
      const missing = "dsp_neverstoredhere" as DispatchId;
      assert.equal(await a.cluster.claim(sa.id, missing), false);
      assert.equal(await a.cluster.serverOf(missing), undefined);
      // A redispatch to another server: the dispatch follows the claim.
      const sb = serverRecord(2);
      await b.cluster.join(sb, LONG);
      assert.equal(await b.cluster.claim(sb.id, id), true);
      assert.deepEqual(await a.cluster.serverOf(id), sb);
    });

    it("a server that stops heartbeating loses its dispatches to another's claimOrphans, which gets its record; its heartbeat then fails", async () => {
      const { a, b, db } = await fresh();
      const dying = serverRecord(1);
      const taker = serverRecord(2);
      await a.cluster.join(dying, 300);
      await b.cluster.join(taker, LONG);
      const ids = await dispatches(a, 3, dying.id);
      assert.equal(await a.cluster.heartbeat(dying.id, 300), true, "renewed while live");
      assert.deepEqual(await b.cluster.claimOrphans(taker.id, 10), [], "nothing is taken from a live server");
      await expired(b, dying.id);
      assert.equal(await b.cluster.serverOf(ids[0] as DispatchId), undefined, "no live server drives it");
      const claimed = await b.cluster.claimOrphans(taker.id, 10);
      assert.deepEqual(claimed, ids.map((id) => ({ id, previous: dying })), "in creation order, each with the server that drove it");
      for (const id of ids) assert.deepEqual(await a.cluster.serverOf(id), taker);
      assert.deepEqual(await b.cluster.claimOrphans(taker.id, 10), [], "taken once");
      // The lease ran out: the heartbeat says so, and does not bring it back.
      assert.equal(await a.cluster.heartbeat(dying.id, LONG), false);
      assert.equal(await a.cluster.heartbeat(dying.id, LONG), false);
      assert.deepEqual(await a.cluster.servers(), [taker]);
      assert.equal(await server.psql(`SELECT count(*) FROM servers WHERE id = '${dying.id}'`, db), "1", "an expired row stays until a join or leave sweeps it");
      // A join sweeps it: nothing unfinished names it any more.
      await a.cluster.join(serverRecord(3), LONG);
      assert.equal(await server.psql(`SELECT count(*) FROM servers WHERE id = '${dying.id}'`, db), "0");
    });

    it("an expired server's row is kept by a sweep while an unfinished dispatch still names it", async () => {
      const { a, b, db } = await fresh();
      const dying = serverRecord(1);
      await a.cluster.join(dying, 200);
      const [id] = (await dispatches(a, 1, dying.id)) as [DispatchId];
      await expired(a, dying.id);
      await b.cluster.join(serverRecord(2), LONG);
      assert.equal(await server.psql(`SELECT count(*) FROM servers WHERE id = '${dying.id}'`, db), "1", "kept: a claim will want its record");
      const taker = serverRecord(3);
      await b.cluster.join(taker, LONG);
      assert.deepEqual(await b.cluster.claimOrphans(taker.id, 5), [{ id, previous: dying }]);
    });

    it("a heartbeat that waits on a claim's lock is judged when it gets the row, not when it asked", async () => {
      const { a, url, db } = await fresh();
      const s = serverRecord(1);
      await a.cluster.join(s, 1_500);
      // A claim's first step (its share lock on the row), held by hand from before the lease runs out to after.
      const claimer = new pg.Client({ connectionString: url });
      await claimer.connect();
      closers.push(() => claimer.end());
      await claimer.query("BEGIN");
      await claimer.query("SELECT 1 FROM servers WHERE id = $1 FOR SHARE", [s.id]);
      const live = await claimer.query<{ live: boolean }>(
        "SELECT expires_at > (extract(epoch from clock_timestamp()) * 1000)::int8 AS live FROM servers WHERE id = $1",
        [s.id],
      );
      assert.equal(live.rows[0]?.live, true, "the heartbeat below is asked while the lease is live");
      const beat = a.cluster.heartbeat(s.id, LONG);
      await waitFor(
        "the heartbeat to wait for the lock",
        async () => (await server.psql(`SELECT count(*) FROM pg_stat_activity WHERE datname = '${db}' AND wait_event_type = 'Lock'`, db)) === "1",
      );
      await waitFor("the lease to run out by the database's clock", async () => {
        const r = await claimer.query<{ out: boolean }>(
          "SELECT expires_at <= (extract(epoch from clock_timestamp()) * 1000)::int8 AS out FROM servers WHERE id = $1",
          [s.id],
        );
        return r.rows[0]?.out === true;
      });
      await claimer.query("COMMIT");
      assert.equal(await beat, false, "the lease ran out while it waited: it is not renewed");
      assert.deepEqual(await a.cluster.servers(), []);
    });

    it("two servers claiming at once: each of 50 orphaned dispatches goes to exactly one of them", async () => {
      const { a, b, url, db } = await fresh();
      const dead = serverRecord(1);
      await a.cluster.join(dead, 300);
      const ids = await dispatches(a, 50, dead.id);
      // Two more stores: four pools between two claimers and the writers.
      const c = await open(url);
      const sa = serverRecord(2);
      const sb = serverRecord(3);
      await b.cluster.join(sa, LONG);
      await c.cluster.join(sb, LONG);
      await expired(a, dead.id);
      const drain = async (store: PostgresStore, id: ServerId) => {
        const mine: DispatchId[] = [];
        for (;;) {
          const got = await store.cluster.claimOrphans(id, 4);
          for (const g of got) assert.deepEqual(g.previous, dead);
          if (!got.length) return mine;
          mine.push(...got.map((g) => g.id));
        }
      };
      const [ofA, ofB] = await Promise.all([drain(b, sa.id), drain(c, sb.id)]);
      const union = new Set([...ofA, ...ofB]);
      assert.equal(ofA.length + ofB.length, 50, `${ofA.length} + ${ofB.length}`);
      assert.deepEqual([...union].sort(), [...ids].sort(), "every dispatch was taken");
      assert.deepEqual(ofA.filter((id) => ofB.includes(id)), [], "none by both");
      const byServer = await server.psql(`SELECT string_agg(server_id || '=' || n, ',' ORDER BY server_id) FROM (SELECT server_id, count(*) n FROM dispatches GROUP BY server_id) t`, db);
      assert.equal(byServer, [`${sa.id}=${ofA.length}`, `${sb.id}=${ofB.length}`].filter((x) => !x.endsWith("=0")).sort().join(","), "what each was told is what the table says");
    });

    it("never takes a dispatch no server drives (embedded), a finished one, a sublattice's child, or the caller's own; a caller without a live lease takes none", async () => {
      const { a, b } = await fresh();
      const dead = serverRecord(1);
      const me = serverRecord(2);
      await a.cluster.join(dead, 200);
      await b.cluster.join(me, LONG);
      const embedded = await dispatches(a, 2, undefined, { status: "RUNNING" });
      const finished = [
        ...(await dispatches(a, 1, dead.id, { status: "COMPLETED" })),
        ...(await dispatches(a, 1, dead.id, { status: "FAILED" })),
        ...(await dispatches(a, 1, dead.id, { status: "CANCELLED" })),
      ];
      const [orphan] = (await dispatches(a, 1, dead.id, { status: "RUNNING" })) as [DispatchId];
      const child = await dispatches(a, 1, dead.id, { parentId: orphan, parentNode: 0, status: "RUNNING" });
      const own = await dispatches(a, 1, me.id, { status: "RUNNING" });
      await expired(a, dead.id);
      // One whose lease has run out takes nothing, even from a dead server.
      const late = serverRecord(3);
      await a.cluster.join(late, 200);
      await expired(a, late.id);
      assert.deepEqual(await a.cluster.claimOrphans(late.id, 50), []);
      assert.deepEqual(await a.cluster.claimOrphans(newServerId(), 50), [], "nor one that never joined");
      assert.deepEqual(await b.cluster.claimOrphans(me.id, 50), [{ id: orphan, previous: dead }]);
      for (const id of embedded) assert.equal(await a.cluster.serverOf(id), undefined);
      for (const id of [...finished, ...child]) assert.equal((await a.cluster.serverOf(id)) === undefined, true);
      for (const id of own) assert.deepEqual(await a.cluster.serverOf(id), me);
      assert.deepEqual(await b.cluster.claimOrphans(me.id, 50), []);
      assert.deepEqual(await b.cluster.claimOrphans(me.id, 0), []);
    });

    it("leave frees a server's dispatches at once; the row is gone, so none has a previous record", async () => {
      const { a, b } = await fresh();
      const leaving = serverRecord(1);
      const staying = serverRecord(2);
      await a.cluster.join(leaving, LONG);
      await b.cluster.join(staying, LONG);
      const ids = await dispatches(a, 2, leaving.id);
      await a.cluster.leave(leaving.id);
      assert.deepEqual(await b.cluster.servers(), [staying]);
      assert.equal(await b.cluster.serverOf(ids[0] as DispatchId), undefined);
      assert.deepEqual(await b.cluster.claimOrphans(staying.id, 10), ids.map((id) => ({ id, previous: undefined })));
      assert.equal(await a.cluster.heartbeat(leaving.id, LONG), false, "a server that left has no lease");
    });

    it("refuses a lease that is not a positive time, and says why", async () => {
      const { a } = await fresh();
      await assert.rejects(a.cluster.join(serverRecord(1), 0), /positive number of milliseconds, not 0/);
      await assert.rejects(a.cluster.heartbeat(newServerId(), Number.NaN), /not NaN/);
    });
  });

  describe("messages", () => {
    it("a broadcast reaches the other servers' subscribers on that channel, not the sender's own", async () => {
      const { a, b } = await fresh();
      const sa = newServerId();
      const sb = newServerId();
      const ofA = await record(a, sa);
      const ofB = await record(b, sb);
      const commandsOfB = await record(b, sb, "commands");
      await a.cluster.broadcast("changes", sa, { dispatch: "dsp_x", n: 1 });
      await waitFor("B to hear A", () => ofB.got.length === 1);
      assert.deepEqual(ofB.got, [{ payload: { dispatch: "dsp_x", n: 1 }, from: sa }]);
      // B answers; by the time A has it, A's own message (sent first) would have come too.
      await b.cluster.broadcast("changes", sb, "from b");
      await waitFor("A to hear B", () => ofA.got.length >= 1);
      assert.deepEqual(ofA.got, [{ payload: "from b", from: sb }], "A did not get its own message");
      await b.cluster.broadcast("commands", sa, { cancel: "dsp_x" });
      await waitFor("B's command", () => commandsOfB.got.length === 1);
      assert.deepEqual(commandsOfB.got, [{ payload: { cancel: "dsp_x" }, from: sa }], "the changes message did not reach the commands channel");
      await assert.rejects(a.cluster.broadcast("changes", sa, undefined), /must be JSON/);
      await assert.rejects(a.cluster.broadcast("gossip" as "changes", sa, 1), /no cluster channel "gossip": there are changes and commands/);
    });

    it("a 100 KB payload arrives whole, every notification under Postgres's limit", async () => {
      const { a, b, db } = await fresh();
      const sa = newServerId();
      const ofB = await record(b, newServerId());
      // Characters of 1 to 4 bytes, so that parts are cut next to multi-byte ones.
      const big = { text: "aé€😀".repeat(10_000), list: Array.from({ length: 500 }, (_, i) => ({ i, s: `item ${i}` })) };
      const parts = splitMessage(sa, JSON.stringify(big));
      assert.ok(parts.length > 10, `${parts.length} parts`);
      for (const p of parts) assert.ok(Buffer.byteLength(p) <= NOTIFICATION_BYTES, `${Buffer.byteLength(p)} bytes`);
      await a.cluster.broadcast("changes", sa, big);
      await waitFor("the large message", () => ofB.got.length === 1);
      assert.deepEqual(ofB.got[0], { payload: big, from: sa });
      assert.equal(await server.psql("SELECT pg_notification_queue_usage() < 1", db), "t");
    });

    it("a subscriber whose connection is terminated connects again and hears what is sent after; its reports hide the password", async () => {
      const { a, b, db } = await fresh();
      const events: ListenerEvent[] = [];
      b.cluster.onListenerEvent = (e) => events.push(e);
      const sa = newServerId();
      const ofB = await record(b, newServerId());
      await a.cluster.broadcast("changes", sa, 1);
      await waitFor("the first message", () => ofB.got.length === 1);
      const [before] = await listeners(db);
      assert.ok(before);
      assert.equal(await server.psql(`SELECT pg_terminate_backend(${before})`, db), "t");
      await waitFor("it to connect again", () => events.some((e) => e.kind === "reconnected"));
      const now = await listeners(db);
      assert.equal(now.length, 1);
      assert.notEqual(now[0], before, "a new backend");
      await a.cluster.broadcast("changes", sa, 2);
      await waitFor("the message after the reconnection", () => ofB.got.length === 2);
      assert.deepEqual(ofB.got.map((g) => g.payload), [1, 2]);
      const lost = events.find((e) => e.kind === "lost");
      assert.ok(lost, JSON.stringify(events));
      assert.match(lost.message, /cannot listen on channel valence_changes of the Postgres store postgres:\/\/valence:\*\*\*@127\.0\.0\.1:\d+\/valence_test_\d+/);
      assert.doesNotMatch(JSON.stringify(events), new RegExp(SECRET));
    });

    it("a subscriber whose connection goes silent (no reset ever comes) notices by its ping and connects again", async () => {
      const { name, url } = await server.freshDatabase();
      const a = await open(url);
      const proxy = await tcpProxy(new URL(url));
      closers.push(() => proxy.close());
      const through = new URL(url);
      through.port = String(proxy.port);
      const events: ListenerEvent[] = [];
      const cluster = new PostgresCluster({
        url: through.toString(),
        dataDir: tempDir(),
        pingMs: 100,
        pingTimeoutMs: 300,
        onListenerEvent: (e) => events.push(e),
      });
      closers.push(() => cluster.close());
      const got: unknown[] = [];
      await cluster.subscribe("changes", newServerId(), (p) => got.push(p));
      const sa = newServerId();
      await a.cluster.broadcast("changes", sa, "before");
      await waitFor("the first message", () => got.length === 1);
      proxy.freeze();
      await waitFor("it to notice and connect again", () => events.some((e) => e.kind === "reconnected"));
      assert.match(events.find((e) => e.kind === "lost")?.message ?? "", /did not answer a ping within 300 ms/);
      await a.cluster.broadcast("changes", sa, "after");
      await waitFor("the message after", () => got.includes("after"));
      assert.equal((await listeners(name)).length, 2, "the frozen backend (still there) and the new one");
    });

    it("unsubscribing stops delivery and ends its connection; the server's other subscriptions go on", async () => {
      const { a, b, db } = await fresh();
      const sa = newServerId();
      const sb = newServerId();
      const first = await record(b, sb);
      const second = await record(b, sb);
      await a.cluster.broadcast("changes", sa, "one");
      await waitFor("both to hear", () => first.got.length === 1 && second.got.length === 1);
      assert.equal((await listeners(db)).length, 2);
      await first.stop();
      assert.equal((await listeners(db)).length, 1, "its connection is gone");
      await a.cluster.broadcast("changes", sa, "two");
      await waitFor("the other to hear", () => second.got.length === 2);
      assert.deepEqual(first.got.map((g) => g.payload), ["one"]);
      await first.stop();
    });

    it("closing the store ends its listeners and its cluster pool; the cluster then refuses", async () => {
      const { name, url } = await server.freshDatabase();
      const store = await PostgresStore.open({ url, dataDir: tempDir() });
      await store.cluster.subscribe("changes", newServerId(), () => undefined);
      await store.cluster.subscribe("commands", newServerId(), () => undefined);
      await store.cluster.servers();
      assert.equal((await listeners(name, "valence_changes")).length + (await listeners(name, "valence_commands")).length, 2);
      await store.close();
      assert.equal((await listeners(name, "valence_changes")).length + (await listeners(name, "valence_commands")).length, 0);
      assert.equal(await server.psql(`SELECT count(*) FROM pg_stat_activity WHERE datname = '${name}' AND application_name LIKE 'valence%'`, name), "0");
      await assert.rejects(store.cluster.servers(), /is closed/);
      await assert.rejects(store.cluster.subscribe("changes", newServerId(), () => undefined), /is closed/);
    });

    it("a subscription that cannot connect is refused in words, the password masked", async () => {
      const { url } = await server.freshDatabase();
      const bad = new URL(withSecret(url));
      bad.pathname = "/no_such_database";
      const cluster = new PostgresCluster({ url: bad.toString(), dataDir: tempDir() });
      closers.push(() => cluster.close());
      await assert.rejects(cluster.subscribe("changes", newServerId(), () => undefined), (e: Error) => {
        assert.match(e.message, /cannot listen on channel valence_changes of the Postgres store postgres:\/\/valence:\*\*\*@.*database "no_such_database" does not exist/);
        assert.doesNotMatch(`${e.message} ${e.stack}`, new RegExp(SECRET));
        return true;
      });
    });
  });

  describe("bundles", () => {
    const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

    it("a bundle put by one server is got by another; a second put of it (bytes or a stream, or at once) keeps the first", async () => {
      const { a, b, db } = await fresh();
      const bytes = Buffer.from('export const x = "bundle";\n');
      const hash = sha(bytes);
      assert.equal(await b.cluster.hasBundle(hash), false);
      await a.cluster.putBundle(hash, bytes);
      assert.equal(await b.cluster.hasBundle(hash), true);
      assert.deepEqual(await b.cluster.getBundle(hash), bytes);
      const storedAt = await server.psql(`SELECT stored_at FROM bundles WHERE hash = '${hash}'`, db);
      await b.cluster.putBundle(hash, bytes);
      await b.cluster.putBundle(hash, Readable.from([bytes.subarray(0, 5), bytes.subarray(5)]));
      await Promise.all([a.cluster.putBundle(hash, bytes), b.cluster.putBundle(hash, bytes)]);
      assert.equal(await server.psql(`SELECT count(*) || ':' || min(stored_at) FROM bundles`, db), `1:${storedAt}`);
      assert.equal(await server.psql(`SELECT count(*) FROM bundle_parts`, db), "1");
      // Two different bundles put at once, each for the first time, by both servers.
      const others = [Buffer.from("one"), Buffer.from("two")];
      await Promise.all(others.flatMap((o) => [a.cluster.putBundle(sha(o), o), b.cluster.putBundle(sha(o), o)]));
      for (const o of others) assert.deepEqual(await a.cluster.getBundle(sha(o)), o);
      // An empty bundle is a bundle too.
      const empty = Buffer.alloc(0);
      await a.cluster.putBundle(sha(empty), empty);
      assert.deepEqual(await b.cluster.getBundle(sha(empty)), empty);
    });

    it("a large bundle goes as parts of at most 1 MiB, from a stream of odd-sized chunks, and comes back whole", async () => {
      const { a, b, db } = await fresh();
      const size = 5 * BUNDLE_PART_BYTES + 12_345;
      const bytes = randomBytes(size);
      const hash = sha(bytes);
      const chunks = [];
      for (let at = 0; at < size; at += 65_537) chunks.push(bytes.subarray(at, at + 65_537));
      await a.cluster.putBundle(hash, Readable.from(chunks));
      assert.equal(await server.psql(`SELECT size || ':' || parts FROM bundles WHERE hash = '${hash}'`, db), `${size}:6`);
      assert.equal(await server.psql(`SELECT max(length(bytes)) FROM bundle_parts WHERE hash = '${hash}'`, db), String(BUNDLE_PART_BYTES));
      const got = await b.cluster.getBundle(hash);
      assert.ok(got && got.equals(bytes), "the same bytes");
      // And as bytes given whole: split the same way.
      const other = randomBytes(2 * BUNDLE_PART_BYTES);
      await b.cluster.putBundle(sha(other), other);
      assert.equal(await server.psql(`SELECT parts FROM bundles WHERE hash = '${sha(other)}'`, db), "2");
      assert.ok((await a.cluster.getBundle(sha(other)))?.equals(other));
    });

    it("a bundle no server put is undefined; contents that are not what the hash says are refused and nothing is kept", async () => {
      const { a, db } = await fresh();
      const missing = sha(Buffer.from("never put"));
      assert.equal(await a.cluster.getBundle(missing), undefined);
      assert.equal(await a.cluster.hasBundle(missing), false);
      assert.equal(await a.cluster.getBundle("../../etc/passwd"), undefined, "not a hash: not looked for");
      await assert.rejects(a.cluster.putBundle("nothex", Buffer.from("x")), /"nothex" is not a bundle hash/);
      const wrong = randomBytes(BUNDLE_PART_BYTES + 10);
      await assert.rejects(a.cluster.putBundle(missing, wrong), (e: Error) => {
        assert.match(e.message, new RegExp(`the bundle's sha256 is ${sha(wrong)}, not ${missing} as its name says; it was not kept`));
        return true;
      });
      assert.equal(await a.cluster.hasBundle(missing), false);
      assert.equal(await server.psql(`SELECT count(*) FROM bundles`, db) + await server.psql(`SELECT count(*) FROM bundle_parts`, db), "00");
      // A stream that fails part-way keeps nothing.
      async function* failing() {
        yield randomBytes(BUNDLE_PART_BYTES);
        throw new Error("the disk went away");
      }
      await assert.rejects(a.cluster.putBundle(missing, failing()), /the disk went away/);
      assert.equal(await a.cluster.hasBundle(missing), false);
      // And the put that comes after it goes through.
      const right = Buffer.from("never put");
      await a.cluster.putBundle(missing, right);
      assert.deepEqual(await a.cluster.getBundle(missing), right);
    });
  });

  describe("message parts (no database)", () => {
    it("split and joined again whatever the order, parts of other messages in between, duplicates ignored", () => {
      const json = JSON.stringify({ s: "x€😀".repeat(5_000) });
      const parts = splitMessage("srv_a", json, 1_000).map((p) => parsePart(p));
      const other = splitMessage("srv_b", JSON.stringify("other".repeat(500)), 1_000).map((p) => parsePart(p));
      assert.ok(parts.every(Boolean) && other.every(Boolean));
      const r = new Reassembly();
      const shuffled = [...parts].reverse();
      const out: Array<{ from: string; json: string }> = [];
      for (let i = 0; i < shuffled.length; i++) {
        const whole = r.add(shuffled[i] as NonNullable<(typeof parts)[0]>);
        if (whole) out.push(whole);
        if (i === 1) r.add(shuffled[0] as NonNullable<(typeof parts)[0]>);
        const o = other[i];
        if (o) {
          const w = r.add(o);
          if (w) out.push(w);
        }
      }
      assert.deepEqual(out.map((o) => o.from).sort(), ["srv_a", "srv_b"]);
      assert.equal(out.find((o) => o.from === "srv_a")?.json, json);
      assert.equal(r.size, 0);
      assert.equal(parsePart("not ours"), undefined);
      assert.equal(parsePart('{"v":1,"from":"x","id":"i","part":3,"parts":3}\nzz'), undefined);
      assert.deepEqual(splitMessage("srv_a", '""').map((p) => parsePart(p)?.text), ['""'], "a small message is one part");
    });

    it("a message missing parts is dropped after the timeout, and past the budget the oldest go", async () => {
      const parts = splitMessage("srv_a", JSON.stringify("y".repeat(3_000)), 1_000).map((p) => parsePart(p) as NonNullable<ReturnType<typeof parsePart>>);
      const r = new Reassembly(50);
      for (const p of parts.slice(1)) assert.equal(r.add(p), undefined);
      assert.equal(r.size, 1);
      await waitFor("the incomplete message to be dropped", () => r.size === 0);
      assert.equal(r.add(parts[0] as (typeof parts)[0]), undefined, "its last part alone completes nothing");
      r.clear();
      // A budget of 4000 characters: one message of ~3000 fits, two do not.
      const small = new Reassembly(60_000, 4_000);
      const m1 = splitMessage("srv_a", JSON.stringify("1".repeat(3_000)), 1_000).map((p) => parsePart(p) as (typeof parts)[0]);
      const m2json = JSON.stringify("2".repeat(3_000));
      const m2 = splitMessage("srv_a", m2json, 1_000).map((p) => parsePart(p) as (typeof parts)[0]);
      assert.ok(m1.length >= 4 && m2.length >= 4);
      small.add(m1[0] as (typeof parts)[0]);
      small.add(m1[1] as (typeof parts)[0]);
      const joined = m2.map((p) => small.add(p));
      assert.deepEqual(joined.at(-1), { from: "srv_a", json: m2json }, "the newer message completes");
      assert.equal(small.size, 0, "the older, over the budget, went");
      for (const p of m1.slice(2)) assert.equal(small.add(p), undefined, "its first parts are gone: it never completes");
      small.clear();
      assert.equal(small.size, 0);
    });
  });

  it("the migration from schema version 1 keeps what was stored; old dispatches have no server and are never claimed", async () => {
    const { name, url } = await server.freshDatabase();
    const id = newDispatchId();
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const client = await pool.connect();
    try {
      await migratePostgres(client, url, 1);
      // Rows as a Valence at version 1 wrote them.
      await client.query(
        `INSERT INTO dispatches (id, name, lattice_id, status, created_at, results_dir, cwd, node_count) VALUES ($1, 'old', 'wf.ts:1', 'RUNNING', 5, '/r', '/', 1)`,
        [id],
      );
      await client.query(`INSERT INTO graphs (dispatch_id, inputs, output_template, nodes, edges) VALUES ($1, '[]', '[]', $2, '[]')`, [
        id,
        encodeNodes([nodeRecord(0, { name: "kept" })]),
      ]);
      await client.query(`INSERT INTO events (dispatch_id, node_id, at, kind) VALUES ($1, 0, 7, 'started')`, [id]);
    } finally {
      client.release();
      await pool.end();
    }
    assert.equal(await server.psql("SELECT version FROM valence_schema", name), "1");
    assert.equal(await server.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'servers'", name), "0");
    const store = await open(url);
    assert.equal(await server.psql("SELECT version FROM valence_schema", name), String(PG_SCHEMA_VERSION), "brought up to the current version");
    const d = await store.getDispatch(id);
    assert.deepEqual([d?.name, d?.status, d?.createdAt, d?.nodeCount], ["old", "RUNNING", 5, 1]);
    assert.deepEqual((await store.getNodes(id)).map((n) => n.name), ["kept"]);
    assert.deepEqual((await store.getEvents(id)).map((e) => e.kind), ["started"]);
    assert.equal(await server.psql(`SELECT server_id IS NULL FROM dispatches WHERE id = '${id}'`, name), "t");
    const me = serverRecord(1);
    await store.cluster.join(me, LONG);
    assert.deepEqual(await store.cluster.claimOrphans(me.id, 10), [], "a dispatch from before has no server: never taken");
    assert.equal(await store.cluster.claim(me.id, id), true, "and can be claimed");
    assert.deepEqual(await store.cluster.serverOf(id), me);
  });
});

/** A TCP proxy to Postgres whose open connections can be frozen: no data, no close, as a network that went away. */
async function tcpProxy(target: URL): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  const pairs: Array<[Socket, Socket]> = [];
  const proxy: Server = createServer((inbound) => {
    const outbound = connectTcp(Number(target.port), target.hostname);
    inbound.pipe(outbound).pipe(inbound);
    for (const s of [inbound, outbound]) s.on("error", () => undefined);
    pairs.push([inbound, outbound]);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return {
    port: (proxy.address() as { port: number }).port,
    freeze() {
      for (const [inbound, outbound] of pairs.splice(0)) {
        inbound.unpipe(outbound);
        outbound.unpipe(inbound);
        inbound.pause();
        outbound.pause();
        closeLater.push(inbound, outbound);
      }
    },
    async close() {
      for (const s of closeLater.splice(0)) s.destroy();
      for (const [i, o] of pairs.splice(0)) {
        i.destroy();
        o.destroy();
      }
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}
const closeLater: Socket[] = [];
