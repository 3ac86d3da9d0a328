// An interval trigger on two team servers sharing a real Postgres: registered through one, it
// fires on both without a tick firing twice (each tick is claimed once in the database), and
// when the server it was registered with is killed (-9) the other keeps it firing, loading
// the lattice's bundle from the team's database.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { killTeamServers, startTeamServer } from "./fixtures/team-servers.js";
import { startTestPostgres, type TestPostgres } from "../src/engine/store/postgres/test-support/test-postgres.js";
import { ServerClient } from "../src/client/server-client.js";

const LEASE_MS = 1500;
const tickLog = join(dataDir, "ticks.log");
let pg: TestPostgres;
let url: string;

before(async () => {
  pg = await startTestPostgres();
  url = (await pg.freshDatabase()).url;
  // The team servers' runners append each tick they run here (fixtures/trigger-workflows.ts).
  process.env["VALENCE_TEST_TICK_LOG"] = tickLog;
});
after(async () => {
  killTeamServers();
  await pg?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const ticks = () => (existsSync(tickLog) ? readFileSync(tickLog, "utf8").trim().split("\n").filter(Boolean) : []);

it("fires each tick once across the team, and goes on firing on the other server when the one it was registered with is killed", { timeout: 120_000 }, async () => {
  const a = await startTeamServer(dataDir, "a", url, LEASE_MS);
  const b = await startTeamServer(dataDir, "b", url, LEASE_MS);
  process.env["VALENCE_SERVER"] = a.url;
  const { trigger } = await import("../src/index.js");
  const { tick } = await import("./fixtures/trigger-workflows.js");
  const id = await trigger(tick, { every: "1s" });
  while (ticks().length < 3) await sleep(50);
  a.child.kill("SIGKILL");
  const killedAt = Date.now();
  while (ticks().filter((t) => Date.parse(t) > killedAt).length < 3) await sleep(50);

  const viaB = new ServerClient(b.url);
  await viaB.pauseTrigger(id, true);
  const seen = ticks();
  assert.equal(new Set(seen).size, seen.length, `a tick ran twice:\n${seen.join("\n")}`);
  const r = await viaB.trigger(id, 1000);
  assert.equal(r.fires.length, new Set(r.fires.map((f) => f.key)).size);
  // Every fire's dispatch finishes: B's own, and A's once B took them over.
  for (const f of r.fires) assert.equal((await viaB.result(f.dispatchId, { wait: true, statusOnly: true })).dispatch.status, "COMPLETED", `the dispatch of tick ${f.key}`);
  assert.match(b.log, new RegExp(`trigger ${id}: tick dispatched as dsp_`), "B never fired the trigger registered with A");
});
