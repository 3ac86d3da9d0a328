// Team servers on different machines: each with a data dir of its own, sharing only a real
// Postgres. A bundle one server received is found by the other (through the database); a server
// killed with its data dir deleted (a machine whose disk is gone) has its dispatches finished by
// the other from the bundles in the database, results dirs in its own data dir; a bundle the
// database lacks fails the dispatch, naming it.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { killTeamServers, startTeamServer, type TeamServer } from "./fixtures/team-servers.js";
import { ServerClient } from "../src/client/server-client.js";
import type { DispatchId } from "../src/ids.js";
import { PostgresStore } from "../src/engine/store/postgres/postgres-store.js";
import { BUILTIN_EXECUTORS, Engine } from "../src/engine/engine.js";
import { loadConfig } from "../src/engine/config/index.js";
import { createRegistry } from "../src/engine/plugins/registry.js";
import { startTestPostgres, type TestPostgres } from "../src/engine/store/postgres/test-support/test-postgres.js";
import { validSubmit } from "../src/server/test-support/submissions.js";

const clientScript = fileURLToPath(new URL("./fixtures/team-client.ts", import.meta.url));
const LEASE_MS = 1500;
const STEPS = 6;

let pg: TestPostgres;
const stores: PostgresStore[] = [];


interface Team {
  readonly url: string;
  readonly db: string;
  readonly a: TeamServer;
  readonly b: TeamServer;
  /** A store of the test's own on the team's database (as a third server would read it). */
  readonly store: PostgresStore;
}


/** A fresh database and two team servers on it, `<tag>-a` and `<tag>-b`, each with a data dir of its own. */
async function team(tag: string): Promise<Team> {
  const { name: db, url } = await pg.freshDatabase();
  const a = await startTeamServer(dataDir, `${tag}-a`, url, LEASE_MS);
  const b = await startTeamServer(dataDir, `${tag}-b`, url, LEASE_MS);
  const store = await PostgresStore.open({ url, dataDir: join(dataDir, `${tag}-reader`) });
  stores.push(store);
  return { url, db, a, b, store };
}

/** Dispatches `count` chains of `workflow` through `server` from a client process of its own (with a data dir of its own); their ids. */
function dispatchThrough(server: TeamServer, first: number, count: number, ms: number, workflow = "chain"): DispatchId[] {
  const r = spawnSync(process.execPath, ["--import", "tsx", clientScript, dataDir, String(first), String(count), String(STEPS), String(ms), workflow], {
    env: { ...process.env, VALENCE_SERVER: server.url, VALENCE_DATA_DIR: join(dataDir, `client-${server.name}`) },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) as string) as DispatchId[];
}

/** Kills `s` (-9) and deletes its whole data dir: a machine whose disk is gone. */
async function loseMachine(s: TeamServer): Promise<void> {
  const exited = new Promise((resolve) => s.child.once("exit", resolve));
  s.child.kill("SIGKILL");
  await exited;
  rmSync(s.dataDir, { recursive: true, force: true });
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`waited ${ms} ms for ${what}`);
    await sleep(25);
  }
}

/** Whether a step (an electron node) of `id` has completed. */
async function stepDone(store: PostgresStore, id: DispatchId): Promise<boolean> {
  return (await store.getNodes(id)).some((n) => n.status === "COMPLETED" && n.kind === "electron");
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const hashesIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => /^[0-9a-f]{64}\.mjs$/.test(f)).map((f) => f.slice(0, 64)).sort() : []);

before(async () => {
  pg = await startTestPostgres();
});
after(async () => {
  killTeamServers();
  for (const store of stores) await store.close().catch(() => undefined);
  await pg?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("team servers on different machines", () => {
  it("a bundle uploaded to A is found by HEAD, GET and a submission on B, which fetches it into its own data dir", { timeout: 60_000 }, async () => {
    const { a, b } = await team("head");
    const toA = new ServerClient(a.url);
    const toB = new ServerClient(b.url);
    const file = join(dataDir, "shared-bundle.mjs");
    writeFileSync(file, `export const shared = ${JSON.stringify("x".repeat(3 * 1024 * 1024))};\n`);
    const bytes = readFileSync(file);
    const hash = sha256(bytes);
    assert.equal(await toB.hasBundle(hash), false, "no server has it yet");
    await toA.uploadBundle(hash, file);
    assert.equal(await toB.hasBundle(hash), true, "HEAD on B finds what A received");
    assert.ok(readFileSync(join(b.dataDir, "bundles", `${hash}.mjs`)).equals(bytes), "B fetched it into its own data dir, whole");
    // GET is the same route; and a submission naming a bundle only the other server received is taken.
    const second = Buffer.from("export const second = 2;\n");
    writeFileSync(file, second);
    await toB.uploadBundle(sha256(second), file);
    const get = await fetch(`${a.url}/api/v1/bundles/${sha256(second)}`);
    assert.equal(get.status, 200);
    const third = Buffer.from("export const third = 3;\n");
    writeFileSync(file, third);
    await toA.uploadBundle(sha256(third), file);
    const id = await toB.submit(validSubmit({ bundleHash: sha256(third) }));
    assert.equal((await toB.result(id, { wait: true })).dispatch.status, "COMPLETED");
    assert.deepEqual(hashesIn(join(b.dataDir, "bundles")), [hash, sha256(second), sha256(third)].sort());
    // One neither has: 404 on both, and nothing is written.
    const none = sha256(Buffer.from("never uploaded"));
    assert.equal(await toA.hasBundle(none), false);
    assert.equal((await fetch(`${b.url}/api/v1/bundles/${none}`)).status, 404);
    assert.equal((await fetch(`${b.url}/api/v1/bundles/not-a-hash`)).status, 404);
    assert.equal(existsSync(join(b.dataDir, "bundles", `${none}.mjs`)), false);
    // A client that dispatches through A uploads its bundle there; B has it without an upload.
    dispatchThrough(a, 100, 1, 10);
    const dispatched = hashesIn(join(dataDir, "client-head-a", "bundles"));
    assert.equal(dispatched.length, 1);
    assert.equal(await toB.hasBundle(dispatched[0] as string), true);
    assert.doesNotMatch(b.log + a.log, /cannot|error/i);
  });

  it("A killed and its data dir deleted: B takes over and completes every dispatch (chains, a sublattice of local-executor steps), then a redispatch of one of A's", { timeout: 180_000 }, async () => {
    const { a, b, store, db } = await team("machines");
    const chains = dispatchThrough(a, 0, 4, 800);
    const [nested] = dispatchThrough(a, 4, 1, 800, "nested-local") as [DispatchId];
    const all = [...chains, nested];
    // Once A's work is under way: a step of the last chain done, and the sublattice's child dispatch has a step done too.
    await waitFor("a step of the last chain", () => stepDone(store, chains[3] as DispatchId));
    let child: DispatchId | undefined;
    await waitFor("a step of the sublattice's child", async () => {
      child = (await store.childDispatches(nested))[0]?.id;
      return child !== undefined && (await stepDone(store, child));
    });
    // As if A were on another machine: its server row and its runners' ownership of dispatches
    // name another host, where no lock can be checked from here.
    await pg.psql(`UPDATE servers SET host = 'machine-a' WHERE url = '${a.url}'`, db);
    await pg.psql(`UPDATE dispatches SET owner_host = 'machine-a' WHERE owner_host IS NOT NULL`, db);
    // A's bundles: the chains', the sublattice workflow's and its child's (the child's made by A's runner, here the same).
    const bundlesOfA = hashesIn(join(a.dataDir, "bundles"));
    for (const id of [chains[0] as DispatchId, nested, child as DispatchId]) {
      const path = (await store.getDispatch(id))?.bundlePath ?? "";
      assert.ok(path.startsWith(join(a.dataDir, "bundles")) && bundlesOfA.includes(basename(path, ".mjs")), `${id}'s bundle is one of A's: ${path}`);
    }
    assert.equal(bundlesOfA.length, 2);
    await loseMachine(a);
    const unfinishedAtKill: DispatchId[] = [];
    for (const id of all) if ((await store.getDispatch(id))?.status !== "COMPLETED") unfinishedAtKill.push(id);
    assert.ok(unfinishedAtKill.includes(nested) && unfinishedAtKill.length >= 2, "A died with dispatches under way");

    const client = new ServerClient(b.url);
    for (const id of all) {
      const r = await client.result(id, { wait: true });
      assert.equal(r.dispatch.status, "COMPLETED", `${id}: ${r.dispatch.error ?? ""}\n${b.log}`);
      assert.equal(r.dispatch.output, (await store.getDispatch(id))?.output);
    }
    for (const id of all) assert.equal((await store.getDispatch(id))?.output, String(STEPS), `${id} has the right result`);
    assert.equal((await store.getDispatch(child as DispatchId))?.status, "COMPLETED", "the sublattice's child was resumed, not run again");
    for (const id of unfinishedAtKill) {
      assert.match(b.log, new RegExp(`taking over ${id} from server srv_\\w+`));
      assert.ok(existsSync(join(b.dataDir, "results", id)), `${id}'s results dir is in B's own data dir`);
    }
    assert.match(b.log, /let go of its owners? on machine-a, whose server's lease ran out/);
    // B fetched from the database what it needed of A's bundles (the sublattice's child's too), into its own data dir.
    const fetched = [...b.log.matchAll(/fetched its code bundle ([0-9a-f]{64}) from the team's database/g)].map((m) => m[1] as string);
    assert.deepEqual([...new Set(fetched)].sort(), bundlesOfA);
    assert.deepEqual(hashesIn(join(b.dataDir, "bundles")), bundlesOfA);
    assert.equal(existsSync(a.dataDir), false, "nothing wrote to A's paths again");
    assert.doesNotMatch(b.log, /cannot|error/i);
    // Every step ran; a step ran twice only if it was running on A when A died (one per chain at most).
    for (let i = 0; i < all.length; i++) {
      const lines = readFileSync(join(dataDir, `chain-${i}.log`), "utf8").trim().split("\n");
      assert.deepEqual([...new Set(lines)].sort(), Array.from({ length: STEPS }, (_, k) => `s${k}`), `chain ${i} ran every step`);
      assert.ok(lines.length <= STEPS + 1, `chain ${i} re-ran more than the step running at the kill: ${lines.join(",")}`);
    }

    // B's copies gone too: a redispatch through B of a dispatch A received fetches its bundle again.
    rmSync(join(b.dataDir, "bundles"), { recursive: true, force: true });
    const again = await client.redispatch(chains[0] as string, { reusePreviousResults: false, replaceElectrons: [] });
    const r = await client.result(again, { wait: true });
    assert.equal(r.dispatch.status, "COMPLETED", `${again}: ${r.dispatch.error ?? ""}\n${b.log}`);
    assert.equal(r.dispatch.output, String(STEPS));
    assert.match(b.log, new RegExp(`dispatch ${again}: fetched its code bundle [0-9a-f]{64} from the team's database`));
  });

  it("a bundle a server's runner makes (a sublattice's, for its child dispatch) is kept in the team's database", { timeout: 60_000 }, async () => {
    const { url } = await pg.freshDatabase();
    const store = await PostgresStore.open({ url, dataDir: join(dataDir, "engine") });
    stores.push(store);
    const config = loadConfig();
    const engine = new Engine(config, await createRegistry({ config, builtins: BUILTIN_EXECUTORS }), store);
    const source = fileURLToPath(new URL("./fixtures/team-machines-workflows.ts", import.meta.url));
    // An embedded dispatcher on Postgres (not a server's runner) keeps its bundles to itself.
    const path = await engine.bundle(source);
    const hash = basename(path, ".mjs");
    assert.equal(await store.cluster.hasBundle(hash), false);
    engine.shareBundles = true; // what runner-main sets
    assert.equal(await engine.bundle(source), path);
    assert.ok((await store.cluster.getBundle(hash))?.equals(readFileSync(path)), "kept, the same bytes");
  });

  it("a dispatch whose bundle is neither on the server that takes it over nor in the database fails, naming the bundle", { timeout: 60_000 }, async () => {
    const { a, b, store, db } = await team("missing");
    const [id] = dispatchThrough(a, 20, 1, 1000) as [DispatchId];
    await waitFor("a step of the chain", () => stepDone(store, id));
    const hash = await pg.psql("SELECT string_agg(hash, ',') FROM bundles", db);
    assert.match(hash, /^[0-9a-f]{64}$/);
    await pg.psql("DELETE FROM bundle_parts; DELETE FROM bundles", db);
    await loseMachine(a);
    const r = await new ServerClient(b.url).result(id, { wait: true });
    assert.equal(r.dispatch.status, "FAILED");
    assert.match(r.dispatch.error ?? "", new RegExp(`its code bundle ${hash} is neither on this server .* nor in the team's database`));
    assert.match(b.log, new RegExp(`dispatch ${id}: its code bundle ${hash} is neither on this server`));
  });
});
