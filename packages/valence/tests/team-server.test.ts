// A team server: `valence start --store postgres://…` on a real Postgres, the SDK dispatching through it.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { startServer, type RunningServer } from "../src/server/server.js";
import { startTestPostgres, type TestPostgres } from "../src/engine/store/postgres/test-support/test-postgres.js";
import { PostgresStore } from "../src/engine/store/postgres/postgres-store.js";

let pg: TestPostgres;
let url: string;
let server: RunningServer;

before(async () => {
  pg = await startTestPostgres();
  url = (await pg.freshDatabase()).url;
  server = await startServer({ dataDir: join(dataDir, "server-a"), port: 0, store: { kind: "postgres", url }, log: () => undefined });
  process.env.VALENCE_SERVER = server.info.url;
});
after(async () => {
  await server?.close();
  await pg?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const sdk = () => import("../src/index.js");
const bin = fileURLToPath(new URL("../bin/valence.js", import.meta.url));
function valence(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 60_000, env: { ...process.env, VALENCE_DATA_DIR: join(dataDir, "cli"), ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const flows = () => import("./fixtures/server-workflows.js");

describe("a server on Postgres", () => {
  it("runs dispatches through its runners and keeps them in the database", async () => {
    const { dispatch, getResult } = await sdk();
    const { fanOut, outer } = await flows();
    const id = await dispatch(fanOut)(5);
    const result = await getResult(id, { wait: true });
    assert.equal(result.status, "COMPLETED", result.error?.message);
    assert.deepEqual(result.result, [2, 3, 4, 5, 6]);
    const sub = await getResult(await dispatch(outer)(5), { wait: true });
    assert.equal(sub.result, 15);
    // It says where it stores, and who its team is (itself, here).
    const { ServerClient } = await import("../src/client/server-client.js");
    const health = await new ServerClient(server.info.url).health();
    assert.equal(health.store, url);
    assert.deepEqual(health.team, [server.info.url]);
    // In the database, read by a store of its own (as a second server would).
    const store = await PostgresStore.open({ url, dataDir: join(dataDir, "reader") });
    try {
      const d = await store.getDispatch(id);
      assert.equal(d?.status, "COMPLETED");
      assert.equal((await store.getNodes(id)).filter((n) => n.status === "COMPLETED").length, d?.nodeCount);
    } finally {
      await store.close();
    }
  });

  it("reuses a cached electron's result from the team's database in a later dispatch, and lists it with valence cache ls", async () => {
    const { dispatch, getResult } = await sdk();
    const { cachedFlow } = await flows();
    const first = await getResult(await dispatch(cachedFlow)(4), { wait: true });
    assert.equal(first.result, 64);
    assert.equal(first.nodes[0]?.cachedFrom, undefined);
    const second = await getResult(await dispatch(cachedFlow)(4), { wait: true });
    assert.equal(second.result, 64);
    assert.deepEqual(second.nodes[0]?.cachedFrom, { dispatchId: first.dispatchId, nodeId: 0 });
    const ls = valence(["cache", "ls", "--json"], { VALENCE_STORE: url });
    assert.equal(ls.code, 0, ls.err);
    const entries = JSON.parse(ls.out) as Array<{ dispatchId: string; hits: number; electron: string }>;
    assert.deepEqual(entries.filter((e) => e.dispatchId === first.dispatchId).map((e) => [e.electron, e.hits]), [["cachedCube", 1]]);
  });

  it("valence migrate creates a fresh database's tables and says their version; a bad or unreachable store is refused with the password masked", async () => {
    const fresh = (await pg.freshDatabase()).url;
    const { PG_SCHEMA_VERSION } = await import("../src/engine/store/postgres/postgres-schema.js");
    const ok = valence(["migrate", "--store", fresh]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, new RegExp(`^store postgres://.*: schema version ${PG_SCHEMA_VERSION}, up to date\n$`));
    assert.match(await pg.psql("SELECT count(*) FROM dispatches", new URL(fresh).pathname.slice(1)), /0/);
    const bad = valence(["migrate", "--store", "mysql://root:hunter2@db/x"]);
    assert.equal(bad.code === 0, false);
    assert.match(bad.err, /--store: store must be "sqlite" or a Postgres URL/);
    // TLS settings in the URL reach the driver: this test Postgres has no TLS, and says so.
    const tls = valence(["migrate", "--store", `${fresh}?sslmode=verify-full`]);
    assert.notEqual(tls.code, 0);
    assert.match(tls.err, /does not support SSL/);
    // Nothing listens on port 1: the server does not start, and says where it looked.
    const down = valence(["start", "--foreground", "--port", "0"], { VALENCE_STORE: "postgres://team:hunter2@127.0.0.1:1/teamdb" });
    assert.notEqual(down.code, 0);
    assert.match(down.err, /127\.0\.0\.1/);
    assert.match(down.err, /teamdb/);
    assert.doesNotMatch(down.err + down.out, /hunter2/);
  });

  it("a team server that cannot renew its lease stops driving before the lease runs out, and says why", { timeout: 60_000 }, async () => {
    const { startTcpProxy } = await import("../src/engine/store/postgres/test-support/tcp-proxy.js");
    const target = new URL((await pg.freshDatabase()).url);
    const proxy = await startTcpProxy(target.hostname, Number(target.port));
    const viaProxy = new URL(target);
    viaProxy.port = String(proxy.port);
    const lines: string[] = [];
    const lonely = await startServer({ dataDir: join(dataDir, "server-fenced"), port: 0, store: { kind: "postgres", url: viaProxy.toString() }, leaseMs: 1000, log: (l) => lines.push(l) });
    try {
      assert.ok(lines.some((l) => /team server srv_\w+: lease 1000 ms/.test(l)), lines.join("\n"));
      const downAt = performance.now();
      await proxy.down();
      // It closes by itself: its runners stopped, no other server could have taken its dispatches yet.
      await lonely.closed;
      const after = performance.now() - downAt;
      assert.ok(lines.some((l) => /no heartbeat got through for \d+ ms of a 1000 ms lease; stopping before another server takes over/.test(l)), lines.join("\n"));
      assert.ok(lines.includes("stopped"));
      console.log(`# the server stopped ${Math.round(after)} ms after its database went away (lease 1000 ms)`);
    } finally {
      await proxy.up();
      await lonely.close();
      await proxy.close();
    }
  });
});
