// The Postgres driver when its connections drop (postgres-store.ts: reconnecting, write ids),
// against a real Postgres, one fresh database per test, some through a TCP proxy that can reset
// connections, refuse them, or cut one at a chosen moment: a connection terminated between
// writes or during one (holding a lock, in the middle of a large write, after its COMMIT landed
// but before it was confirmed, before its COMMIT reached the server), the database gone for a
// while and back, gone for longer than the store waits, failures that are not the connection's,
// transactions, and the table of write ids kept small.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { inspect } from "node:util";
import pg from "pg";
import { StoreError } from "../../../errors.js";
import { newDispatchId, newTriggerId, type DispatchId } from "../../../ids.js";
import type { StoreWrites } from "../store.js";
import { dispatchRecord, nodeRecord } from "../test-support/store-contract.js";
import { triggerRecord } from "../test-support/trigger-contract.js";
import { isConnectionFailure } from "./postgres-errors.js";
import { PostgresStore, type PostgresStoreOptions, type StoreRetryEvent } from "./postgres-store.js";
import { startTcpProxy, type TcpProxy } from "./test-support/tcp-proxy.js";
import { startTestPostgres, type TestPostgres } from "./test-support/test-postgres.js";

const SECRET = "hunter2-do-not-show";

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
  const d = mkdtempSync(join(tmpdir(), "valence-pgreconnect-"));
  dirs.push(d);
  return d;
}

/** Everything an error shows: message, stack, cause, every own property. */
const shown = (error: unknown) => inspect(error, { depth: 8, showHidden: true });

interface Fresh {
  readonly store: PostgresStore;
  /** The database's own URL (not through the proxy). */
  readonly url: string;
  readonly db: string;
  /** The proxy the store connects through, when asked for. */
  readonly proxy: TcpProxy;
  /** Every retry the store was told of. */
  readonly retries: StoreRetryEvent[];
}

/**
 * A store on a fresh database, through a proxy when `proxied`; its URL carries a password
 * (trust authentication never asks for it), to check that no message shows it.
 */
async function fresh(opts: Partial<PostgresStoreOptions> = {}, proxied = false): Promise<Fresh> {
  const { name, url } = await server.freshDatabase();
  const direct = new URL(url);
  const proxy = await startTcpProxy(direct.hostname, Number(direct.port));
  closers.push(() => proxy.close());
  const through = new URL(url);
  through.password = SECRET;
  if (proxied) through.port = String(proxy.port);
  const retries: StoreRetryEvent[] = [];
  const store = await PostgresStore.open({ url: through.toString(), dataDir: tempDir(), onRetry: (e) => retries.push(e), ...opts });
  closers.push(() => store.close());
  return { store, url, db: name, proxy, retries };
}

/** A stored dispatch of `n` nodes. */
async function dispatch(store: PostgresStore, n: number): Promise<DispatchId> {
  const id = newDispatchId();
  await store.write((w) => w.insertDispatch(dispatchRecord(id, "/r", { nodeCount: n }), Array.from({ length: n }, (_, i) => nodeRecord(i)), []));
  return id;
}

/** A scheduler turn: `nodes` completed (output 7 × node, `stdout` as given), counted, one event each. */
function turn(id: DispatchId, nodes: readonly number[], stdout: (node: number) => string = (node) => `out ${node}`): (w: StoreWrites) => void {
  return (w) => {
    w.nodesCompleted(
      id,
      "/r",
      nodes.map((node) => ({ node, encoded: String(node * 7), stdout: stdout(node), stderr: "", at: 100 + node, startedAt: 50, attempt: 1 })),
    );
    w.countDone(id, nodes.length);
    for (const node of nodes) w.event(id, node, "done", String(node), null, 100 + node);
  };
}

/** What a dispatch holds after turns of `done` nodes: exactly one count, one event and the output of each. */
async function assertExactlyOnce(store: PostgresStore, id: DispatchId, done: readonly number[], n: number): Promise<void> {
  assert.equal((await store.getDispatch(id))?.nodesDone, done.length, "each node counted once");
  const events = await store.getEvents(id);
  assert.deepEqual(events.map((e) => e.nodeId), [...done], "one event per node, in order");
  const nodes = await store.getNodes(id);
  assert.equal(nodes.length, n);
  for (const node of done) {
    const got = nodes[node];
    assert.deepEqual([got?.status, got?.output], ["COMPLETED", String(node * 7)], `node ${node}`);
  }
}

/** The store's own backends (reads and writes; the cluster's are named otherwise), or those of them waiting for a lock. */
async function backends(db: string, waiting = false): Promise<number[]> {
  const lock = waiting ? " AND wait_event_type = 'Lock'" : "";
  const out = await server.psql(`SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE datname = '${db}' AND application_name = 'valence'${lock}`, db);
  return out ? out.split(",").map(Number) : [];
}

/** Polls `check` until it holds (a generous wait: what it waits for happens in milliseconds). */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`waited ${ms} ms for ${what}`);
    await sleep(20);
  }
}

const writeIds = async (db: string) => Number(await server.psql("SELECT count(*) FROM write_ids", db));

describe("PostgresStore when its connections drop", () => {
  it("its connections terminated between writes (pg_terminate_backend): the next write and read succeed, nothing is lost", async () => {
    const { store, db } = await fresh();
    const id = await dispatch(store, 6);
    await store.write(turn(id, [0, 1]));
    const before = await backends(db);
    assert.ok(before.length >= 1, "the write connection is open, idle in its pool");
    assert.equal(await server.psql(`SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db}' AND application_name = 'valence') t`, db), String(before.length));
    await store.write(turn(id, [2, 3]));
    await store.write(turn(id, [4, 5]));
    await assertExactlyOnce(store, id, [0, 1, 2, 3, 4, 5], 6);
    const now = await backends(db);
    assert.deepEqual(now.filter((pid) => before.includes(pid)), [], "new connections, none of the terminated ones");
  });

  it("a write's connection terminated while the write waits for a lock: tried again, it lands exactly once", async () => {
    const { store, db, url, retries } = await fresh();
    const id = await dispatch(store, 4);
    // Another session holds the dispatch's row: the write's count of done nodes waits for it.
    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    closers.push(() => locker.end());
    await locker.query("BEGIN");
    await locker.query("SELECT 1 FROM dispatches WHERE id = $1 FOR UPDATE", [id]);
    let settled = false;
    const written = store.write(turn(id, [0, 1, 2, 3])).finally(() => {
      settled = true;
    });
    await waitFor("the write to wait for the lock", async () => (await backends(db, true)).length === 1);
    const [first] = await backends(db, true);
    assert.equal(await server.psql(`SELECT pg_terminate_backend(${first})`, db), "t");
    await waitFor("the write to be tried again and wait for the lock once more", async () => {
      const waiting = await backends(db, true);
      return waiting.length === 1 && waiting[0] !== first;
    });
    assert.equal(settled, false, "the write has not failed: it is waiting again");
    assert.ok(retries.some((r) => r.doing === "write" && /terminating connection due to administrator command|Connection terminated/.test(r.message)), JSON.stringify(retries));
    await locker.query("COMMIT");
    await written;
    await assertExactlyOnce(store, id, [0, 1, 2, 3], 4);
  });

  it("a COMMIT that landed but whose answer never came: the retry finds the write's id and does not apply it again", async () => {
    const { store, db, proxy, retries } = await fresh({}, true);
    const id = await dispatch(store, 10);
    const cut = proxy.cutAfterAnswer("COMMIT\u0000");
    const all = Array.from({ length: 10 }, (_, i) => i);
    await store.write(turn(id, all));
    await cut;
    const retry = retries.find((r) => r.doing === "write");
    assert.ok(retry, "the write was tried again");
    assert.match(retry.message, /commit was not confirmed, so it may or may not be stored/);
    await assertExactlyOnce(store, id, all, 10);
    assert.equal(await writeIds(db), 2, "one id per write: the insert and the turn");
    // The store goes on.
    await store.write((w) => w.countDone(id, 1));
    assert.equal((await store.getDispatch(id))?.nodesDone, 11);
  });

  it("a trigger's fire claimed, its answer cut: the retry finds its own claim (it fires), and another claim of the key is still refused", async () => {
    const { store, proxy, retries } = await fresh({}, true);
    const t = triggerRecord(newTriggerId());
    const cutInsert = proxy.cutAfterAnswer("INSERT INTO triggers");
    await store.triggers.insert(t);
    await cutInsert;
    assert.equal((await store.triggers.list()).length, 1, "the trigger, once");
    const fire = { triggerId: t.id, key: "2026-12-07T00:00:00.000Z", dispatchId: newDispatchId(), arg: '"x"', at: 5000, tick: 4000 };
    const cutClaim = proxy.cutAfterAnswer("INSERT INTO trigger_fires");
    assert.equal(await store.triggers.claimFire(fire), true, "the claim that landed is this fire's");
    await cutClaim;
    assert.ok(retries.filter((r) => r.doing === "write").length >= 2, "both writes were tried again");
    assert.deepEqual((await store.triggers.unstoredFires()).map((f) => f.dispatchId), [fire.dispatchId]);
    // Another server's claim of the same tick, under its own dispatch id: refused.
    assert.equal(await store.triggers.claimFire({ ...fire, dispatchId: newDispatchId() }), false);
    assert.equal((await store.triggers.get(t.id))?.lastTick, 4000);
  });

  it("a COMMIT cut before it reached the server: the retry applies the write, once", async () => {
    const { store, proxy, retries } = await fresh({}, true);
    const id = await dispatch(store, 3);
    const cut = proxy.cutBefore("COMMIT\u0000");
    await store.write(turn(id, [0, 1, 2]));
    await cut;
    assert.ok(retries.some((r) => r.doing === "write"));
    await assertExactlyOnce(store, id, [0, 1, 2], 3);
  });

  it("a connection cut in the middle of a large write (8 MB of logs): the write lands once, whole", { timeout: 60_000 }, async () => {
    const { store, proxy, retries } = await fresh({}, true);
    const n = 80;
    const id = await dispatch(store, n);
    const log = (node: number) => `${node}:`.padEnd(100_000, String.fromCharCode(97 + (node % 26)));
    const cut = proxy.cutAfterBytes(1_000_000);
    const all = Array.from({ length: n }, (_, i) => i);
    await store.write(turn(id, all, log));
    await cut;
    assert.ok(retries.some((r) => r.doing === "write"), "cut in flight and tried again");
    await assertExactlyOnce(store, id, all, n);
    const nodes = await store.getNodes(id);
    assert.deepEqual(nodes.filter((x) => x.stdout !== log(x.nodeId)).map((x) => x.nodeId), [], "every log whole");
  });

  it("the database unreachable for a while: reads and writes issued meanwhile wait, then complete, the writes in order", { timeout: 60_000 }, async () => {
    const { store, proxy, retries } = await fresh({}, true);
    const id = await dispatch(store, 5);
    await proxy.down();
    const settled: number[] = [];
    const writes = Array.from({ length: 5 }, (_, i) =>
      store
        .write((w) => {
          w.event(id, i, "step", String(i), null, i);
          w.countDone(id, 1);
          w.dispatchStatus(id, "RUNNING", i, { output: `"${i}"` });
        })
        .then(() => settled.push(i)),
    );
    const read = store.getDispatch(id);
    await waitFor("a few retries", () => retries.filter((r) => r.doing === "write").length >= 3 && retries.some((r) => r.doing === "read"));
    await sleep(1_500);
    assert.deepEqual(settled, [], "nothing settled while the database was down");
    assert.ok(retries.every((r) => /ECONNREFUSED|ECONNRESET|Connection terminated/.test(r.message)), JSON.stringify(retries.slice(0, 3)));
    assert.ok(retries.every((r) => r.waitMs <= 2_000), "no wait longer than the longest");
    await proxy.up();
    await Promise.all(writes);
    assert.equal((await read)?.id, id, "the read issued while down");
    assert.deepEqual(settled, [0, 1, 2, 3, 4], "the writes settled in the order issued");
    assert.deepEqual((await store.getEvents(id)).map((e) => e.detail), ["0", "1", "2", "3", "4"]);
    const d = await store.getDispatch(id);
    assert.deepEqual([d?.nodesDone, d?.output], [5, '"4"'], "each once, the last one last");
  });

  it("the database unreachable for longer than the limit: the write fails naming host and database, the password masked; then the store works again", { timeout: 60_000 }, async () => {
    const { store, db, proxy, retries } = await fresh({ reconnectLimitMs: 1_000 }, true);
    const id = await dispatch(store, 2);
    await proxy.down();
    const error = await store.write((w) => w.countDone(id, 1)).then(
      () => assert.fail("a write to a database that stayed down succeeded"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof StoreError, shown(error));
    const message = (error as Error).message;
    assert.ok(message.includes(`cannot write the Postgres store postgres://valence:***@127.0.0.1:${proxy.port}/${db} `), message);
    assert.ok(message.includes(`(host 127.0.0.1, port ${proxy.port}, database ${db})`), message);
    assert.match(message, /the database was unreachable for \d+\.\d s \(\d+ tries, the last: .*ECONNREFUSED/);
    assert.match(message, /nothing of this write was stored; check that Postgres is running and accepts TCP connections/);
    assert.doesNotMatch(shown(error), new RegExp(SECRET), "the password is nowhere in the error");
    assert.ok(retries.length >= 2, "it was tried again before giving up");
    assert.doesNotMatch(JSON.stringify(retries), new RegExp(SECRET));
    // A read gives up too, and says so.
    await assert.rejects(store.getEvents(id), (e: Error) => e instanceof StoreError && /cannot read the Postgres store .*unreachable for/.test(e.message));
    await proxy.up();
    await store.write((w) => w.countDone(id, 2));
    assert.equal((await store.getDispatch(id))?.nodesDone, 2, "the write that gave up stored nothing; the next one landed");
  });

  it("a failure that is not the connection's is not tried again: it fails at once", async () => {
    const { store, retries } = await fresh({ reconnectLimitMs: 60_000 });
    const id = await dispatch(store, 1);
    const missing = "dsp_neverstoredhere" as DispatchId;
    await assert.rejects(store.write((w) => w.countDone(missing, 1)), (e: Error) => e instanceof StoreError && e.message.includes(`dispatch ${missing} is not in the store`));
    await assert.rejects(
      store.write((w) => w.insertDispatch(dispatchRecord(newDispatchId(), "/r", { name: "bad\u0000name" }), [], [])),
      (e: Error) => e instanceof StoreError && /NUL character/.test(e.message),
    );
    // A constraint: the same dispatch stored twice.
    await assert.rejects(store.write((w) => w.insertDispatch(dispatchRecord(id, "/r", { nodeCount: 1 }), [nodeRecord(0)], [])), /duplicate key|23505/);
    let calls = 0;
    await assert.rejects(
      store.transaction(async () => {
        calls++;
        throw new Error("the caller's own");
      }),
      /the caller's own/,
    );
    assert.equal(calls, 1);
    assert.deepEqual(retries, [], "none was tried again");
    assert.equal(isConnectionFailure(Object.assign(new Error("deadlock detected"), { code: "40P01" })), false);
    assert.equal(isConnectionFailure(Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" })), true);
    assert.equal(isConnectionFailure(Object.assign(new Error("connection failure"), { code: "08006" })), true);
    assert.equal(isConnectionFailure(new Error("Connection terminated unexpectedly")), true);
  });

  describe("transactions", () => {
    it("one that cannot connect is tried again before its function runs; the function runs once", { timeout: 60_000 }, async () => {
      const { store, proxy, retries } = await fresh({}, true);
      const id = await dispatch(store, 1);
      await proxy.down();
      let calls = 0;
      const done = store.transaction(async (tx) => {
        calls++;
        const d = await tx.getDispatch(id);
        tx.setOwner(id, 7, "h", "mine");
        return d?.id;
      });
      await waitFor("a few retries", () => retries.filter((r) => r.doing === "transaction").length >= 2);
      assert.equal(calls, 0, "not run while the database is down");
      await proxy.up();
      assert.equal(await done, id);
      assert.equal(calls, 1);
      assert.equal((await store.getDispatch(id))?.ownerLock, "mine");
    });

    it("one whose COMMIT landed unconfirmed returns its result, its function run once", async () => {
      const { store, proxy } = await fresh({}, true);
      const id = await dispatch(store, 1);
      let calls = 0;
      const cut = proxy.cutAfterAnswer("COMMIT\u0000");
      const got = await store.transaction(async (tx) => {
        calls++;
        tx.countDone(id, 1);
        tx.event(id, 0, "claimed", null, null, 1);
        return "result";
      });
      await cut;
      assert.deepEqual([got, calls], ["result", 1]);
      assert.equal((await store.getDispatch(id))?.nodesDone, 1);
      assert.equal((await store.getEvents(id)).length, 1);
    });

    it("one whose COMMIT never reached the server fails saying nothing was stored, its function run once and not again", async () => {
      const { store, proxy } = await fresh({}, true);
      const id = await dispatch(store, 1);
      let calls = 0;
      const cut = proxy.cutBefore("COMMIT\u0000");
      await assert.rejects(
        store.transaction(async (tx) => {
          calls++;
          tx.countDone(id, 1);
          return "result";
        }),
        (e: Error) => e instanceof StoreError && /nothing of this write was stored/.test(e.message) && !/may or may not/.test(e.message),
      );
      await cut;
      assert.equal(calls, 1);
      assert.equal((await store.getDispatch(id))?.nodesDone, 0);
      await store.transaction(async (tx) => tx.countDone(id, 2));
      assert.equal((await store.getDispatch(id))?.nodesDone, 2, "the store goes on");
    });
  });

  it("the table of write ids stays small: ids older than the limit are deleted every so many writes, and at open", async () => {
    // Kept 200 ms (twice the reconnect limit: a shorter keep is raised to that), pruned every 10 writes.
    const opts = { reconnectLimitMs: 100, writeIdsKeepMs: 0, writeIdsPruneEvery: 10 };
    const { store, db, url } = await fresh(opts);
    const id = await dispatch(store, 1);
    const counts: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 10; i++) await store.write((w) => w.countDone(id, 1));
      // Settles after everything queued before it, the prune too.
      await store.write(() => undefined);
      counts.push(await writeIds(db));
      await sleep(300);
    }
    assert.equal((await store.getDispatch(id))?.nodesDone, 50);
    assert.ok(counts.every((c) => c >= 1 && c <= 20), `at most two prunes' worth after each round: ${counts}`);
    assert.ok(counts.slice(1).every((c) => c <= 11), `old ones gone: ${counts}`);
    await store.close();
    await sleep(300);
    const again = await PostgresStore.open({ url, dataDir: tempDir(), ...opts });
    closers.push(() => again.close());
    assert.equal(await writeIds(db), 0, "opening deletes the old ones");
    // With the defaults (an hour), ids stay.
    const kept = await PostgresStore.open({ url, dataDir: tempDir() });
    closers.push(() => kept.close());
    for (let i = 0; i < 15; i++) await kept.write((w) => w.countDone(id, 1));
    await kept.write(() => undefined);
    assert.equal(await writeIds(db), 15);
  });
});
