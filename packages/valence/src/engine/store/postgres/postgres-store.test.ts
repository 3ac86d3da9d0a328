// What is the Postgres driver's own (what every driver does is the store contract,
// postgres-store.contract.test.ts): opening in bad conditions, migrations, wide writes,
// two stores on one database, and the same records as the SQLite driver for the same writes.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inspect } from "node:util";
import pg from "pg";
import { StoreError, StoreVersionError } from "../../../errors.js";
import { newDispatchId, type DispatchId } from "../../../ids.js";
import type { NodeRecord } from "../records.js";
import { SqliteStore } from "../sqlite-store.js";
import { LARGE_VALUE_BYTES, type Store, type StoreWrites } from "../store.js";
import { dispatchRecord, nodeRecord } from "../test-support/store-contract.js";
import { PG_SCHEMA_VERSION } from "./postgres-schema.js";
import { PostgresStore } from "./postgres-store.js";
import { startTestPostgres, type TestPostgres } from "./test-support/test-postgres.js";

const SECRET = "hunter2-do-not-show";
const ARG0 = '{"kind":"arg","index":0}';

let server: TestPostgres;
const dirs: string[] = [];
const stores: Store[] = [];

before(async () => {
  server = await startTestPostgres();
});

after(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await server?.stop();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "valence-pgstore-"));
  dirs.push(d);
  return d;
}

async function open(url: string, dataDir = tempDir()): Promise<PostgresStore> {
  const store = await PostgresStore.open({ url, dataDir });
  stores.push(store);
  return store;
}

/** A store on a fresh database, and the database's name. */
async function fresh(): Promise<{ store: PostgresStore; url: string; db: string; dir: string }> {
  const { name, url } = await server.freshDatabase();
  const dir = tempDir();
  return { store: await open(url, dir), url, db: name, dir };
}

/** A port nothing listens on (taken from the kernel, then let go). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Everything an error shows: message, stack, cause, every own property. */
const shown = (error: unknown) => inspect(error, { depth: 8, showHidden: true });

describe("PostgresStore", () => {
  describe("opening in bad conditions", () => {
    it("refuses an unreachable server at once, naming host, port and database, with the password masked", { timeout: 15_000 }, async () => {
      const port = await closedPort();
      const url = `postgres://valence:${SECRET}@127.0.0.1:${port}/somedb`;
      const error = await PostgresStore.open({ url, dataDir: tempDir() }).then(
        () => assert.fail("opened a store on a port nothing listens on"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof StoreError, shown(error));
      const message = (error as Error).message;
      assert.ok(message.includes(`postgres://valence:***@127.0.0.1:${port}/somedb`), message);
      assert.ok(message.includes(`host 127.0.0.1, port ${port}, database somedb`), message);
      assert.match(message, /ECONNREFUSED/);
      assert.match(message, /check that Postgres is running and accepts TCP connections/);
      assert.doesNotMatch(shown(error), new RegExp(SECRET), "the password is nowhere in the error");
    });

    it("gives up on a server that does not answer after the connect timeout, in words", { timeout: 15_000 }, async () => {
      // A listener that accepts and never speaks: the connection opens, the startup reply never comes.
      const silent = createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const port = (silent.address() as { port: number }).port;
      try {
        const url = `postgres://valence:${SECRET}@127.0.0.1:${port}/quiet`;
        const error = await PostgresStore.open({ url, dataDir: tempDir(), connectTimeoutMs: 300 }).then(
          () => assert.fail("opened a store on a server that never answered"),
          (e: unknown) => e,
        );
        assert.ok(error instanceof StoreError, shown(error));
        assert.match((error as Error).message, new RegExp(`cannot open the Postgres store postgres://valence:\\*\\*\\*@127\\.0\\.0\\.1:${port}/quiet .*timeout`, "i"));
        assert.doesNotMatch(shown(error), new RegExp(SECRET));
      } finally {
        silent.close();
      }
    });

    it("names a database that does not exist, and what to do", async () => {
      const url = new URL(server.server.url);
      url.pathname = "/no_such_database";
      url.password = SECRET;
      await assert.rejects(PostgresStore.open({ url: url.toString(), dataDir: tempDir() }), (e: Error) => {
        assert.ok(e instanceof StoreError);
        assert.match(e.message, /database "no_such_database" does not exist/);
        assert.match(e.message, /create the database \(createdb\) or fix its name in the URL/);
        assert.doesNotMatch(shown(e), new RegExp(SECRET));
        return true;
      });
    });

    it("refuses a URL that is not a Postgres URL without echoing its password", async () => {
      await assert.rejects(PostgresStore.open({ url: `mysql://root:${SECRET}@127.0.0.1/db`, dataDir: tempDir() }), (e: Error) => {
        assert.ok(e instanceof StoreError);
        assert.match(e.message, /is not a Postgres URL: write it as postgres:\/\/USER:PASSWORD@HOST:PORT\/DATABASE/);
        assert.doesNotMatch(shown(e), new RegExp(SECRET));
        return true;
      });
    });
  });

  describe("migrations", () => {
    it("two opens at once on a new database both succeed; the schema is made once, and opening again changes nothing", async () => {
      const { name, url } = await server.freshDatabase();
      const [a, b] = await Promise.all([open(url), open(url)]);
      assert.equal(await server.psql("SELECT count(*) || ':' || max(version) FROM valence_schema", name), `1:${PG_SCHEMA_VERSION}`);
      const id = newDispatchId();
      await a.write((w) => w.insertDispatch(dispatchRecord(id, "/r", { nodeCount: 1 }), [nodeRecord(0)], []));
      assert.equal((await b.getDispatch(id))?.id, id, "both stores are on the one database");
      const tables = await server.psql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'", name);
      await a.close();
      await b.close();
      const again = await open(url);
      assert.equal((await again.getNodes(id)).length, 1, "what was stored stays");
      assert.equal(await server.psql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'", name), tables);
      assert.equal(tables, "bundle_parts,bundles,dispatches,events,graphs,large_values,live_output,node_states,result_cache,servers,sources,trigger_fires,triggers,valence_schema,write_ids");
      assert.equal(await server.psql("SELECT version FROM valence_schema", name), String(PG_SCHEMA_VERSION));
    });

    it("refuses a database whose schema is newer than this Valence, and leaves it as it is", async () => {
      const { store, url, db } = await fresh();
      await store.close();
      await server.psql(`UPDATE valence_schema SET version = ${PG_SCHEMA_VERSION + 1}`, db);
      await assert.rejects(PostgresStore.open({ url, dataDir: tempDir() }), (e: Error) => {
        assert.ok(e instanceof StoreVersionError, shown(e));
        assert.match(e.message, new RegExp(`schema version ${PG_SCHEMA_VERSION + 1}, newer than this Valence understands \\(${PG_SCHEMA_VERSION}\\)`));
        assert.match(e.message, /upgrade Valence, or point VALENCE_STORE at another database/);
        assert.ok(e.message.includes(url), "names the database");
        return true;
      });
      assert.equal(await server.psql("SELECT version FROM valence_schema", db), String(PG_SCHEMA_VERSION + 1));
    });
  });

  it("a 10k-node dispatch: stored, all completed in one write, and read back", { timeout: 120_000 }, async () => {
    const { store, dir } = await fresh();
    const n = 10_000;
    const id = newDispatchId();
    const results = join(dir, "results", id);
    const nodes = Array.from({ length: n }, (_, i) => nodeRecord(i));
    const edges = Array.from({ length: n - 1 }, (_, i) => ({ source: i, target: i + 1, param: ARG0 }));
    await store.write((w) => w.insertDispatch(dispatchRecord(id, results, { nodeCount: n }), nodes, edges));
    // Some RUNNING marks written before: their attempt and start stand.
    await store.write((w) => {
      for (let i = 0; i < n; i += 100) w.nodeRunning(id, i, 2, 1_000 + i);
    });
    const big = JSON.stringify("z".repeat(LARGE_VALUE_BYTES + 1));
    await store.write((w) => {
      w.nodesCompleted(
        id,
        results,
        nodes.map((x) => ({
          node: x.nodeId,
          encoded: x.nodeId === 4242 ? big : `${x.nodeId * 3}`,
          stdout: x.nodeId % 2 ? `out ${x.nodeId}` : "",
          stderr: "",
          at: 50_000 + x.nodeId,
          startedAt: 40_000,
          attempt: x.nodeId % 100 === 0 ? null : 1,
        })),
      );
      w.countDone(id, n);
      for (let i = 0; i < n; i++) w.event(id, i, "done", null, null, 50_000 + i);
    });
    const back = await store.getNodes(id);
    assert.equal(back.length, n);
    assert.equal(back.filter((x) => x.status === "COMPLETED").length, n);
    assert.deepEqual(back.map((x) => x.nodeId), Array.from({ length: n }, (_, i) => i));
    const wrong = back.filter((x) => x.nodeId !== 4242 && x.output !== `${x.nodeId * 3}`);
    assert.deepEqual(wrong, [], "every output as written");
    const b7 = back[7] as NodeRecord;
    const b200 = back[200] as NodeRecord;
    assert.deepEqual([b7.stdout, b7.stderr, b7.attempts, b7.startedAt, b7.endedAt], ["out 7", null, 1, 40_000, 50_007]);
    assert.deepEqual([b200.stdout, b200.attempts, b200.startedAt], [null, 2, 40_000], "its RUNNING mark's attempt; the completion's start");
    const large = back[4242] as NodeRecord;
    assert.equal(large.output, null);
    assert.match(large.outputFile ?? "", /^postgres:large_values\/\d+$/);
    assert.equal(await store.readOutput(large), big);
    assert.equal((await store.getDispatch(id))?.nodesDone, n);
    const events = await store.getEvents(id);
    assert.equal(events.length, n);
    assert.deepEqual(events.slice(0, 3).map((e) => e.nodeId), [0, 1, 2], "events in call order");
    assert.ok(events.every((e, i) => i === 0 || e.id > (events[i - 1] as { id: number }).id));
    assert.equal((await store.getEdges(id)).length, n - 1);
  });

  it("lands interleaved and repeated writes exactly as the SQLite driver does, records alike field for field", async () => {
    const { store: postgres } = await fresh();
    const sqliteDir = tempDir();
    const sqlite = new SqliteStore(sqliteDir);
    stores.push(sqlite);
    const id = "dsp_paritycheck0001" as DispatchId;
    const redo = "dsp_paritycheck0002" as DispatchId;
    const results = "/data/results/parity";
    const writes: Array<(w: StoreWrites) => void> = [
      (w) => {
        w.insertDispatch(dispatchRecord(id, results, { nodeCount: 6, createdAt: 1_765_000_000_000, name: "parity" }), Array.from({ length: 6 }, (_, i) => nodeRecord(i)), [
          { source: 0, target: 1, param: ARG0 },
        ]);
        w.insertSources(id, { "a.ts:1": "const a = 1", "b.ts:1": "const b = 2" });
        w.dispatchStatus(id, "RUNNING", 1_765_000_000_100);
        w.setOwner(id, 123, "host-a", "lock-a");
      },
      // One turn: the same node written again and again (each must land after the one before),
      // interleaved with events and other nodes.
      (w) => {
        w.nodeRunning(id, 0, 1, 10);
        w.event(id, 0, "retry", "first try", 0, 11);
        w.nodeEnded(id, 0, "FAILED", '"boom"', { stdout: "so far\u0000binary", stderr: "" }, 12);
        w.nodeRunning(id, 0, 2, 13);
        w.nodeRunning(id, 1, 1, 14);
        w.nodesCompleted(id, results, [
          { node: 0, encoded: '"zero"', stdout: "", stderr: "warn ✓", at: 15, startedAt: 99, attempt: null },
          { node: 1, encoded: "1", stdout: "one", stderr: "", at: 15, startedAt: 14, attempt: 1 },
        ]);
        w.nodeEnded(id, 2, "CANCELLED", '"cancelled"', undefined, 16);
        w.event(id, 2, "cancelled", "by the user", 2, 16);
        w.nodeEnded(id, 3, "FAILED", '"upstream"', undefined, 16);
        w.event(id, 3, "failed", null, 2, 16);
        w.nodesCompleted(id, results, [{ node: 4, encoded: "4", stdout: "", stderr: "", at: 17, startedAt: 16, attempt: 3 }]);
        w.nodeEnded(id, 4, "FAILED", '"after all"', { stdout: "", stderr: "late" }, 18);
        w.countDone(id, 4);
        w.countDone(id, 1);
        w.insertSources(id, { "a.ts:1": "const a = 'replaced'" });
      },
      (w) => {
        w.dispatchStatus(id, "FAILED", 1_765_000_000_900, { ended: true, error: '"node 0"' });
        w.event(id, null, "finished", "FAILED", null, 1_765_000_000_900);
      },
      // A redispatch: stored and restored in one write, a node named twice.
      (w) => {
        w.insertDispatch(
          dispatchRecord(redo, results, { nodeCount: 2, createdAt: 1_765_000_001_000, parentId: null }),
          [nodeRecord(0, { status: "COMPLETED", output: '"zero"' }), nodeRecord(1)],
          [],
        );
        w.restoreNodes(redo, [
          nodeRecord(0, { status: "COMPLETED", output: '"zero"', stdout: "", attempts: 2, startedAt: 3, endedAt: 4 }),
          nodeRecord(0, { status: "COMPLETED", output: '"zero"', stdout: "kept", stderr: "e", attempts: 5, startedAt: 6, endedAt: 7 }),
        ]);
        w.dispatchStatus(redo, "RUNNING", 1_765_000_001_100);
      },
    ];
    for (const fill of writes) {
      await sqlite.write(fill);
      await postgres.write(fill);
    }
    for (const d of [id, redo]) {
      assert.deepEqual(await postgres.getDispatch(d), await sqlite.getDispatch(d), `dispatch ${d}`);
      assert.deepEqual(await postgres.getNodes(d), await sqlite.getNodes(d), `nodes of ${d}`);
      assert.deepEqual(await postgres.getEdges(d), await sqlite.getEdges(d));
      assert.deepEqual(await postgres.getEvents(d), await sqlite.getEvents(d), `events of ${d}`);
      assert.deepEqual(await postgres.getSources(d), await sqlite.getSources(d));
    }
    assert.deepEqual(await postgres.listDispatches(), await sqlite.listDispatches());
    assert.deepEqual(await postgres.unfinishedDispatches(), await sqlite.unfinishedDispatches());
    assert.deepEqual(await postgres.countByStatus(), await sqlite.countByStatus());
    assert.deepEqual(await postgres.findDispatches({ search: "PARITY", limit: 5, offset: 0 }), await sqlite.findDispatches({ search: "PARITY", limit: 5, offset: 0 }), "a search ignores case in both");
    // What the comparison stands on, spelled out.
    const [n0, , , , n4] = (await postgres.getNodes(id)) as NodeRecord[];
    assert.deepEqual([n0?.status, n0?.output, n0?.attempts, n0?.startedAt, n0?.stdout, n0?.stderr, n0?.error], ["COMPLETED", '"zero"', 2, 99, null, "warn ✓", null]);
    assert.deepEqual([n4?.status, n4?.error, n4?.stderr, n4?.attempts], ["FAILED", '"after all"', "late", 3]);
    const d = await postgres.getDispatch(id);
    assert.deepEqual([d?.nodesDone, d?.createdAt, typeof d?.createdAt, d?.endedAt], [5, 1_765_000_000_000, "number", 1_765_000_000_900]);
    assert.deepEqual((await postgres.getEvents(id)).map((e) => e.kind), ["retry", "cancelled", "failed", "finished"]);
    const r0 = (await postgres.getNodes(redo))[0];
    assert.deepEqual([r0?.stdout, r0?.stderr, r0?.attempts, r0?.startedAt], ["kept", "e", 5, 6], "the later of a node named twice");
  });

  it("keeps a NUL in a task's logs; refuses one in a name in words, writing nothing of it", async () => {
    const { store } = await fresh();
    const id = newDispatchId();
    await store.write((w) => w.insertDispatch(dispatchRecord(id, "/r", { nodeCount: 1 }), [nodeRecord(0)], []));
    await store.write((w) => w.nodesCompleted(id, "/r", [{ node: 0, encoded: "0", stdout: "a\u0000b", stderr: "\u0000", at: 2, startedAt: 1, attempt: 1 }]));
    const n = (await store.getNodes(id))[0];
    assert.deepEqual([n?.stdout, n?.stderr], ["a\u0000b", "\u0000"]);
    await assert.rejects(
      store.write((w) => {
        w.countDone(id, 1);
        w.insertDispatch(dispatchRecord(newDispatchId(), "/r", { name: "bad\u0000name" }), [], []);
      }),
      (e: Error) => e instanceof StoreError && /NUL character/.test(e.message) && /nothing of this write was stored/.test(e.message),
    );
    assert.equal((await store.getDispatch(id))?.nodesDone, 0);
    assert.equal((await store.listDispatches()).length, 1);
  });

  it("refuses a write naming a dispatch it does not hold, whatever the op, and lands nothing of that write", async () => {
    const { store } = await fresh();
    const id = newDispatchId();
    await store.write((w) => w.insertDispatch(dispatchRecord(id, "/r", { nodeCount: 1 }), [nodeRecord(0)], []));
    const missing = "dsp_neverstoredhere" as DispatchId;
    const ops: Array<[string, (w: StoreWrites) => void]> = [
      ["countDone", (w) => w.countDone(missing, 1)],
      ["dispatchStatus", (w) => w.dispatchStatus(missing, "RUNNING", 1)],
      ["event", (w) => w.event(missing, null, "x", null, null, 1)],
      ["setOwner", (w) => w.setOwner(missing, 1, "h", "l")],
      ["insertSources", (w) => w.insertSources(missing, { e: "s" })],
      ["nodeEnded", (w) => w.nodeEnded(missing, 0, "FAILED", "1", undefined, 1)],
      ["restoreNodes", (w) => w.restoreNodes(missing, [nodeRecord(0)])],
    ];
    for (const [name, op] of ops) {
      await assert.rejects(
        store.write((w) => {
          w.countDone(id, 1);
          w.event(id, 0, "before", null, null, 1);
          op(w);
        }),
        (e: Error) => e instanceof StoreError && e.message.includes(`dispatch ${missing} is not in the store`),
        name,
      );
    }
    assert.equal((await store.getDispatch(id))?.nodesDone, 0);
    assert.deepEqual(await store.getEvents(id), []);
  });

  it("two stores on one database (two servers): owner checks in transactions take turns, and exactly one claim wins", async () => {
    const { store: a, url } = await fresh();
    const b = await open(url);
    const id = newDispatchId();
    await a.write((w) => w.insertDispatch(dispatchRecord(id, "/r", { ownerLock: null }), [], []));
    const claim = (store: Store, lock: string) =>
      store.transaction(async (tx) => {
        const d = await tx.getDispatch(id);
        await new Promise((r) => setTimeout(r, 50));
        if (d?.ownerLock) return false;
        tx.setOwner(id, 1, lock, lock);
        return true;
      });
    const won = await Promise.all([claim(a, "server-a"), claim(b, "server-b")]);
    assert.equal(won.filter(Boolean).length, 1, `exactly one claim wins: ${won}`);
    assert.equal((await b.getDispatch(id))?.ownerLock, won[0] ? "server-a" : "server-b");
  });

  it("writes issued one after another commit in that order", async () => {
    const { store } = await fresh();
    const id = newDispatchId();
    const issued: Promise<void>[] = [store.write((w) => w.insertDispatch(dispatchRecord(id, "/r"), [], []))];
    for (let i = 0; i < 40; i++) {
      issued.push(
        store.write((w) => {
          w.event(id, i, "step", String(i), null, i);
          w.dispatchStatus(id, i % 2 ? "RUNNING" : "POSTPROCESSING", i, i === 39 ? { output: `"${i}"` } : {});
        }),
      );
    }
    issued.push(store.write(() => undefined));
    await Promise.all(issued);
    assert.deepEqual((await store.getEvents(id)).map((e) => e.detail), Array.from({ length: 40 }, (_, i) => String(i)));
    const d = await store.getDispatch(id);
    assert.deepEqual([d?.status, d?.output, d?.startedAt], ["RUNNING", '"39"', 0]);
  });

  it("keeps a large output in the database, not under the results dir; a node completed again replaces it", async () => {
    const { store, db, dir } = await fresh();
    const id = newDispatchId();
    const results = join(dir, "results", id);
    await store.write((w) => w.insertDispatch(dispatchRecord(id, results, { nodeCount: 1 }), [nodeRecord(0)], []));
    const first = JSON.stringify("a".repeat(LARGE_VALUE_BYTES + 1));
    const second = JSON.stringify("b".repeat(LARGE_VALUE_BYTES + 2));
    await store.write((w) => w.nodesCompleted(id, results, [{ node: 0, encoded: first, stdout: "", stderr: "", at: 2, startedAt: 1, attempt: 1 }]));
    const marker = (await store.getNodes(id))[0]?.outputFile;
    await store.write((w) => w.nodesCompleted(id, results, [{ node: 0, encoded: second, stdout: "", stderr: "", at: 3, startedAt: 1, attempt: 2 }]));
    const row = (await store.getNodes(id))[0] as NodeRecord;
    assert.equal(row.outputFile, marker, "the same row, replaced");
    assert.equal(await store.readOutput(row), second);
    assert.equal(await server.psql("SELECT count(*) FROM large_values", db), "1");
    assert.equal(existsSync(results), false, "nothing is written under the results dir");
    await assert.rejects(store.readOutput({ output: null, outputFile: "/some/file.out" }), /not a place in the Postgres store/);
    await assert.rejects(store.readOutput({ output: null, outputFile: "postgres:large_values/999999" }), /missing from the Postgres store/);
  });

  it("int8 columns read back as numbers on this store's connections; pg's global parsers are left alone", async () => {
    const { store } = await fresh();
    const id = newDispatchId();
    const at = Date.now();
    await store.write((w) => {
      w.insertDispatch(dispatchRecord(id, "/r", { createdAt: at }), [], []);
      w.event(id, null, "x", null, null, at + 1);
    });
    const d = await store.getDispatch(id);
    const [e] = await store.getEvents(id);
    assert.deepEqual([d?.createdAt, e?.at, typeof e?.id], [at, at + 1, "number"]);
    assert.deepEqual(await store.countByStatus(), { NEW_OBJECT: 1 });
    assert.equal((await store.findDispatches({ limit: 1, offset: 0 })).total, 1);
    assert.equal(pg.types.getTypeParser(pg.types.builtins.INT8, "text")("5"), "5", "the global int8 parser still gives strings");
  });

  it("a connection lost in the middle of a transaction fails it in words, lands nothing of it, and the store goes on", async () => {
    const { store, db } = await fresh();
    const id = newDispatchId();
    await store.write((w) => w.insertDispatch(dispatchRecord(id, "/r"), [], []));
    const lost = store.transaction(async (tx) => {
      await tx.getDispatch(id);
      // The server drops the store's connections (as a restart or a failover would) while this one holds the row.
      await server.psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db}' AND pid <> pg_backend_pid()`, db);
      tx.countDone(id, 1);
      tx.setOwner(id, 2, "h", "lost");
    });
    await assert.rejects(lost, (e: Error) => {
      assert.ok(e instanceof StoreError, shown(e));
      assert.match(e.message, /cannot write the Postgres store postgres:\/\/valence@127\.0\.0\.1:\d+\/valence_test_\d+: .*nothing of this write was stored; the server ended the connection/);
      return true;
    });
    await store.write((w) => w.countDone(id, 10));
    const d = await store.getDispatch(id);
    assert.deepEqual([d?.nodesDone, d?.ownerLock], [10, null]);
  });

  it("close lets the writes issued before it land, then refuses new ones", async () => {
    const { store, url } = await fresh();
    const id = newDispatchId();
    const written = store.write((w) => w.insertDispatch(dispatchRecord(id, "/r"), [], []));
    const closed = store.close();
    await assert.rejects(store.write((w) => w.countDone(id, 1)), /is closed/);
    await Promise.all([written, closed]);
    await store.close();
    await assert.rejects(store.getDispatch(id), (e: Error) => e instanceof StoreError && /is closed/.test(e.message), "a read after close");
    const other = await open(url);
    assert.equal((await other.getDispatch(id))?.id, id);
  });
});
