// Triggers against a real server (`valence start`, a separate process) and real files in a
// temp dir: a watch fires for new and changed files with the path, an interval keeps its ticks
// across kill -9 of the server without firing one twice, a fire claimed but not dispatched
// when the server died is dispatched at the next start, and bad specs are refused with errors
// that say what to fix.
import { dataDir as root } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { freePort } from "./fixtures/free-port.js";
import { killAllOn, settled } from "./fixtures/processes.js";
import { ServerClient } from "../src/client/server-client.js";
import type { TriggerReply } from "../src/api/wire.js";

const bin = fileURLToPath(new URL("../bin/valence.js", import.meta.url));
const dataDir = join(root, "server");
const tickLog = join(root, "ticks.log");
const env: NodeJS.ProcessEnv = { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_TEST_TICK_LOG: tickLog };
delete env["VALENCE_SERVER"];

function valence(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}
const serverPid = () => (JSON.parse(readFileSync(join(dataDir, "server.json"), "utf8")) as { pid: number }).pid;
const serverLog = () => (existsSync(join(dataDir, "server.log")) ? readFileSync(join(dataDir, "server.log"), "utf8") : "");
/** The server logs this once per start, after every trigger has started (and a watch's catch-up scan has fired). */
const startsWithTriggers = () => serverLog().split("\n").filter((l) => /triggers: \d+ running/.test(l)).length;

let port: string;
let client: ServerClient;
let sdk: typeof import("../src/index.js");
let flows: typeof import("./fixtures/trigger-workflows.js");

before(async () => {
  assert.ok(existsSync(fileURLToPath(new URL("../dist/cli/main.js", import.meta.url))), "needs the built CLI: run `npm run build` first");
  port = String(await freePort());
  const started = valence(["start", "--port", port]);
  assert.equal(started.code, 0, started.out);
  process.env["VALENCE_SERVER"] = `http://127.0.0.1:${port}`;
  client = new ServerClient(`http://127.0.0.1:${port}`);
  sdk = await import("../src/index.js");
  flows = await import("./fixtures/trigger-workflows.js");
});

after(() => {
  valence(["stop"]);
  killAllOn(dataDir);
  rmSync(root, { recursive: true, force: true });
});

/** Polls the trigger until `done` says its reply is what the test waits for. */
async function until(id: string, done: (r: TriggerReply) => boolean): Promise<TriggerReply> {
  for (;;) {
    const r = await client.trigger(id);
    if (done(r)) return r;
    await sleep(50);
  }
}

describe("directory watch", () => {
  it("fires for new and changed files with their path, not for files there before or hidden ones, and lists its dispatches", { timeout: 60_000 }, async () => {
    const inbox = join(root, "inbox");
    mkdirSync(inbox);
    writeFileSync(join(inbox, "old.txt"), "there before");
    const id = await sdk.trigger(flows.ingest, { watch: inbox });
    assert.match(id, /^trg_/);
    // The watch's first scan runs before the registration is answered: a file from before would have fired by now.
    assert.deepEqual((await client.trigger(id)).fires, [], "a file there before the trigger fired");

    writeFileSync(join(inbox, ".partial"), "hidden");
    writeFileSync(join(inbox, "a.txt"), "first");
    const one = await until(id, (r) => r.fires.length >= 1);
    const first = await sdk.getResult(one.fires[0]!.dispatchId, { wait: true });
    assert.equal(first.status, "COMPLETED", first.error?.message);
    assert.equal(first.result, "a.txt:first");

    mkdirSync(join(inbox, "sub"));
    writeFileSync(join(inbox, "sub", "b.txt"), "nested");
    writeFileSync(join(inbox, "a.txt"), "second");
    // Written under a hidden name, then renamed into place: it arrives whole, and fires once.
    writeFileSync(join(inbox, ".incoming"), "part one, ");
    appendFileSync(join(inbox, ".incoming"), "part two");
    renameSync(join(inbox, ".incoming"), join(inbox, "moved.txt"));
    const four = await until(id, (r) => r.fires.length >= 4);
    const results = [];
    for (const f of four.fires) results.push((await sdk.getResult(f.dispatchId, { wait: true })).result);
    assert.deepEqual(results.sort(), ["a.txt:first", "a.txt:second", "b.txt:nested", "moved.txt:part one, part two"]);
    const shown = await client.trigger(id);
    assert.equal(shown.fires.length, 4, `hidden or old files fired: ${JSON.stringify(shown.fires.map((f) => f.key))}`);
    assert.ok(shown.fires.every((f) => f.status === "COMPLETED"));
    assert.equal(shown.trigger.kind, "watch");
    assert.equal(shown.trigger.spec, inbox);
    assert.equal(shown.trigger.nextFireAt, null);

    // Paused, it does not fire; resumed, it fires for what comes after, not for what came while paused.
    await client.pauseTrigger(id, true);
    writeFileSync(join(inbox, "while-paused.txt"), "x");
    await client.pauseTrigger(id, false);
    writeFileSync(join(inbox, "c.txt"), "after");
    const five = await until(id, (r) => r.fires.length >= 5);
    assert.equal((await sdk.getResult(five.fires[0]!.dispatchId, { wait: true })).result, "c.txt:after");
    assert.equal((await client.trigger(id)).fires.length, 5, "a file written while paused fired");
    await client.removeTrigger(id);
  });

  it("catches up once, after kill -9 and a restart, the files written while the server was down, and fires nothing already fired", { timeout: 90_000 }, async () => {
    const inbox = join(root, "inbox-restart");
    mkdirSync(inbox);
    const id = await sdk.trigger(flows.ingest, { watch: inbox });
    writeFileSync(join(inbox, "before.txt"), "1");
    await until(id, (r) => r.fires.length === 1);
    process.kill(serverPid(), "SIGKILL");
    writeFileSync(join(inbox, "while-down.txt"), "2");
    const starts = startsWithTriggers();
    const again = valence(["start", "--port", port]);
    assert.equal(again.code, 0, again.out);
    // Logged once every trigger has started, a watch's catch-up scan done.
    while (startsWithTriggers() === starts) await sleep(50);
    const r = await client.trigger(id);
    const names = r.fires.map((f) => f.key.split("/").pop()).sort();
    assert.deepEqual(names, ["before.txt", "while-down.txt"]);
    assert.equal((await sdk.getResult(r.fires[0]!.dispatchId, { wait: true })).result, "while-down.txt:2");
    // And it keeps watching.
    writeFileSync(join(inbox, "after.txt"), "3");
    const three = await until(id, (t) => t.fires.length === 3);
    assert.equal((await sdk.getResult(three.fires[0]!.dispatchId, { wait: true })).result, "after.txt:3");
    for (const f of three.fires) assert.equal((await sdk.getResult(f.dispatchId, { wait: true })).status, "COMPLETED");
    await client.removeTrigger(id);
  });
});

describe("interval", () => {
  it("keeps firing across three kill -9 of the server, each started again at once, and never fires a tick twice", { timeout: 180_000 }, async (t) => {
    const id = await sdk.trigger(flows.tick, { every: "1s" });
    const ticks = () => (existsSync(tickLog) ? readFileSync(tickLog, "utf8").trim().split("\n").filter(Boolean) : []);
    while (ticks().length < 2) await sleep(50);
    for (let k = 0; k < 3; k++) {
      // A kill lands anywhere in a fire: before its claim, between the claim and its dispatch, or after.
      process.kill(serverPid(), "SIGKILL");
      const killedAt = Date.now();
      const again = valence(["start", "--port", port]);
      assert.equal(again.code, 0, again.out);
      // Two ticks due after the restart have run (a caught-up one may come first).
      while (ticks().filter((tick) => Date.parse(tick) > killedAt).length < 2) await sleep(50);
      t.diagnostic(`kill ${k + 1}: ${ticks().length} ticks run so far`);
    }
    await client.pauseTrigger(id, true);
    const seen = ticks();
    assert.equal(new Set(seen).size, seen.length, `a tick ran twice:\n${seen.join("\n")}`);
    const times = seen.map((t) => Date.parse(t));
    assert.deepEqual([...times].sort((a, b) => a - b), times, "ticks ran out of order");
    const created = (await client.trigger(id)).trigger.createdAt;
    for (const t of times) assert.equal((t - created) % 1000, 0, `${new Date(t).toISOString()} is not a tick of the schedule`);
    const r = await client.trigger(id, 1000);
    assert.equal(r.fires.length, new Set(r.fires.map((f) => f.key)).size);
    for (const f of r.fires) assert.equal((await sdk.getResult(f.dispatchId, { wait: true })).status, "COMPLETED");
    assert.equal(r.trigger.paused, true);
    assert.equal(r.trigger.nextFireAt, null, "a paused trigger has no next fire");
    await client.removeTrigger(id);
  });

  it("fires a cron schedule (croner's six-field form, every second) with each tick's time", { timeout: 60_000 }, async () => {
    const id = await sdk.trigger(flows.tick, { cron: "* * * * * *" });
    const r = await until(id, (t) => t.fires.length >= 2);
    await client.removeTrigger(id);
    for (const f of r.fires) {
      assert.match(f.key, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/, "a whole second");
      const result = await sdk.getResult(f.dispatchId, { wait: true });
      assert.equal(result.status, "COMPLETED", result.error?.message);
      assert.equal(result.result, f.key, "the lattice is called with the tick's time");
    }
    assert.notEqual(r.fires[0]!.key, r.fires[1]!.key);
  });

  it("dispatches at the next start a fire that was claimed but not dispatched when the server died", { timeout: 90_000 }, async () => {
    const id = await sdk.trigger(flows.noArgs, { cron: "0 0 1 1 *" });
    assert.equal(valence(["stop"]).code, 0);
    // What a server killed between the claim and the dispatch's write leaves behind.
    const { SqliteStore } = await import("../src/engine/store/sqlite-store.js");
    const { newDispatchId } = await import("../src/ids.js");
    const store = new SqliteStore(dataDir);
    const dispatchId = newDispatchId();
    assert.equal(await store.triggers.claimFire({ triggerId: id as never, key: "2026-01-01T00:00:00.000Z", dispatchId, arg: "", at: Date.now(), tick: Date.parse("2026-01-01") }), true);
    await store.close();
    assert.equal(valence(["start", "--port", port]).code, 0);
    const result = await sdk.getResult(dispatchId, { wait: true });
    assert.equal(result.status, "COMPLETED", result.error?.message);
    assert.equal(result.result, "hello");
    const r = await client.trigger(id);
    assert.deepEqual(r.fires.map((f) => [f.dispatchId, f.status]), [[dispatchId, "COMPLETED"]]);
    assert.ok(r.trigger.nextFireAt !== null && new Date(r.trigger.nextFireAt).toISOString().endsWith("-01-01T00:00:00.000Z"), "the next 1 January, midnight");
    await client.removeTrigger(id);
  });
});

describe("refused at registration", () => {
  const refusal = async (p: Promise<unknown>, code: string, message: RegExp) => {
    await assert.rejects(p, (e: Error & { serverCode?: string; code?: string }) => {
      assert.equal(e.serverCode ?? e.code, code, e.message);
      assert.match(e.message, message);
      return true;
    });
  };

  it("an invalid cron expression, with croner's reason", async () => {
    await refusal(sdk.trigger(flows.tick, { cron: "61 * * * *" }), "TRIGGER_SPEC", /cron: "61 \* \* \* \*" is refused by croner: CronPattern: Invalid value for minute: 61/);
  });

  it("a directory that does not exist, by the server", async () => {
    const missing = join(root, "no-such-dir");
    await refusal(sdk.trigger(flows.ingest, { watch: missing }), "TRIGGER_SPEC", new RegExp(`the directory ${missing} does not exist on the server's machine`));
    // The same refusal from the server itself, for a client that skipped its own checks.
    const body = { spec: { cron: "* * * * *" }, latticeName: "x", latticeId: "x", withArg: false, template: { name: "x" } };
    await refusal(client.addTrigger(body as never), "BAD_REQUEST", /template\.latticeId/);
  });

  it("an interval that is not a duration", async () => {
    await refusal(sdk.trigger(flows.tick, { every: "often" }), "TRIGGER_SPEC", /every: "often" is not a duration/);
  });

  it("a lattice that needs more than the one argument a fire gives", async () => {
    await refusal(sdk.trigger(flows.pair as never, { every: "1m" }), "TRIGGER_SPEC", /lattice "pair" needs 2 arguments \(a, b\)/);
  });

  it("a trigger asked of the embedded engine, which would stop firing when the script exits", () => {
    const script = fileURLToPath(new URL("./fixtures/trigger-embedded.ts", import.meta.url));
    const r = spawnSync(process.execPath, [bin, "run", script], { env: { ...env, VALENCE_SERVER: "embedded", VALENCE_DATA_DIR: join(root, "embedded") }, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 1, `${r.stdout}${r.stderr}`);
    // The script's SDK is the source's copy, not the CLI's: the error's class name says what it is.
    assert.match(r.stderr, /TriggerNeedsServerError.*: triggers live in a server, which keeps firing after your script exits: start one with `valence start`/);
  });

  it("an unknown trigger id", async () => {
    await refusal(client.pauseTrigger("trg_nosuchtrigger", true), "TRIGGER_NOT_FOUND", /no trigger "trg_nosuchtrigger" on this server/);
  });

  it("none of them left a trigger behind", async () => {
    assert.deepEqual((await client.triggers()).triggers, []);
  });
});

describe("valence triggers", () => {
  const fixture = fileURLToPath(new URL("./fixtures/trigger-workflows.ts", import.meta.url));

  it("adds a trigger from a file's lattice, lists, shows, pauses, resumes and removes it", { timeout: 60_000 }, async () => {
    const added = valence(["triggers", "add", fixture, "--lattice", "tick", "--cron", "0 7 * * 1-5", "--timezone", "Europe/Paris"]);
    assert.equal(added.code, 0, added.out);
    const id = added.out.trim();
    assert.match(id, /^trg_[0-9a-z]+$/);
    const ls = valence(["triggers", "ls"]);
    assert.equal(ls.code, 0, ls.out);
    assert.match(ls.out, /^ID\s+KIND\s+SPEC\s+LATTICE\s+STATE\s+LAST FIRE\s+NEXT FIRE$/m);
    assert.match(ls.out, new RegExp(`^${id}\\s+cron\\s+0 7 \\* \\* 1-5 \\(Europe/Paris\\)\\s+tick\\s+running\\s+-\\s+\\d{4}-`, "m"));
    const show = valence(["triggers", "show", id]);
    assert.equal(show.code, 0, show.out);
    assert.match(show.out, /no dispatches yet/);
    assert.equal(valence(["triggers", "pause", id]).out.trim(), `${id} paused`);
    assert.equal((await client.trigger(id)).trigger.paused, true);
    assert.equal(valence(["triggers", "resume", id]).out.trim(), `${id} running`);
    assert.equal((await client.trigger(id)).trigger.paused, false);
    assert.equal(valence(["triggers", "rm", id]).code, 0);
    const gone = valence(["triggers", "show", id]);
    assert.equal(gone.code, 1);
    assert.match(gone.out, /TRIGGER_NOT_FOUND.*no trigger "trg_.*" on this server/);
  });

  it("shows a trigger's dispatches with their status", { timeout: 60_000 }, async () => {
    const inbox = join(root, "inbox-cli");
    mkdirSync(inbox);
    const added = valence(["triggers", "add", fixture, "--lattice", "ingest", "--watch", inbox]);
    assert.equal(added.code, 0, added.out);
    const id = added.out.trim();
    writeFileSync(join(inbox, "x.txt"), "x");
    const r = await until(id, (t) => t.fires.length === 1);
    await sdk.getResult(r.fires[0]!.dispatchId, { wait: true });
    const show = valence(["triggers", "show", id]);
    assert.match(show.out, new RegExp(`^${r.fires[0]!.dispatchId}\\s+COMPLETED\\s+\\d{4}-\\S+\\s+${join(inbox, "x.txt")}$`, "m"));
    assert.equal(valence(["triggers", "rm", id]).code, 0);
  });

  it("refuses an unknown lattice, naming the ones the file defines", () => {
    const r = valence(["triggers", "add", fixture, "--lattice", "nope", "--every", "1m"]);
    assert.equal(r.code, 1);
    assert.match(r.out, /TRIGGER_SPEC.*defines no lattice "nope" \(it defines: ingest, tick, noArgs, pair\)/);
    const which = valence(["triggers", "add", fixture, "--every", "1m"]);
    assert.match(which.out, /defines 4 lattices \(ingest, tick, noArgs, pair\): say which with --lattice NAME/);
  });

  it("refuses an invalid cron expression and a missing directory", () => {
    const cron = valence(["triggers", "add", fixture, "--lattice", "tick", "--cron", "* * *"]);
    assert.equal(cron.code, 1);
    assert.match(cron.out, /TRIGGER_SPEC.*cron: "\* \* \*" is refused by croner/);
    const dir = valence(["triggers", "add", fixture, "--lattice", "ingest", "--watch", join(root, "nowhere")]);
    assert.equal(dir.code, 1);
    assert.match(dir.out, /does not exist on the server's machine/);
    const two = valence(["triggers", "add", fixture, "--every", "1m", "--cron", "* * * * *"]);
    assert.equal(two.code, 2);
    assert.match(two.out, /give one of --watch, --every and --cron, not --every and --cron/);
  });
});

it("leaves no process behind when stopped", { timeout: 30_000 }, async () => {
  assert.equal(valence(["stop"]).code, 0);
  assert.deepEqual(await settled(dataDir), []);
});
