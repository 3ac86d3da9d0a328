// Retries with a backoff, on the embedded engine and its real SQLite store: the delays between
// tries, which errors retry, lattice defaults, and a waiting retry that outlives its dispatcher.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { cancel, dispatch, dispatchSync, electron, getResult, lattice } from "../src/index.js";
import { Engine } from "../src/engine/index.js";
import type { DispatchId } from "../src/ids.js";
import * as wf from "./fixtures/retry-workflows.js";

let files = 0;
const freshFile = () => join(dataDir, `tries-${++files}.log`);
const gaps = (tries: ReadonlyArray<{ at: number }>) => tries.slice(1).map((t, i) => t.at - (tries[i] as { at: number }).at);

describe("retries with backoff", () => {
  it("waits out each delay, doubling, and says so in the dispatch's events", async () => {
    const file = freshFile();
    const r = await dispatchSync(wf.backoffFlow)(file, 2, "Error");
    assert.equal(r.status, "COMPLETED");
    assert.equal(r.result, 3);
    assert.equal(r.nodes[0]?.attempts, 3);
    assert.equal(r.nodes[0]?.error, undefined, "a node that completed keeps no error of its failed tries");
    const tries = wf.triesIn(file);
    assert.deepEqual(tries.map((t) => t.n), [1, 2, 3]);
    // Never sooner than the policy says (300 ms, then 600 ms); how much later is the machine's business.
    const [first, second] = gaps(tries);
    assert.ok((first as number) >= 300, `the second try came ${first} ms after the first`);
    assert.ok((second as number) >= 600, `the third try came ${second} ms after the second`);
    const events = await (await Engine.current()).store.getEvents(r.dispatchId as DispatchId);
    const retries = events.filter((e) => e.kind === "retry").map((e) => e.detail);
    assert.deepEqual(retries, [
      "try 1 failed: try 1 failed on purpose; retrying in 0.3 s",
      "try 2 failed: try 2 failed on purpose; retrying in 0.6 s",
    ]);
  });

  it("fails at once on an error its policy does not name, and retries one it names by name or by pattern", async () => {
    const refused = freshFile();
    const r = await dispatchSync(wf.pickyFlow)(refused, 1, "TypeError");
    assert.equal(r.status, "FAILED");
    assert.equal(r.nodes[0]?.attempts, 1);
    assert.equal(r.nodes[0]?.error?.name, "TypeError");
    assert.equal(wf.triesIn(refused).length, 1);

    const named = freshFile();
    const ok = await dispatchSync(wf.pickyFlow)(named, 2, "FlakyNetworkError");
    assert.equal(ok.status, "COMPLETED");
    assert.equal(wf.triesIn(named).length, 3);
  });

  it("gives a lattice's retry to its electrons that set none, and runs out of tries like any other", async () => {
    const file = freshFile();
    const r = await dispatchSync(wf.latticeDefaultFlow)(file, 5);
    assert.equal(r.status, "FAILED");
    assert.equal(r.nodes[0]?.attempts, 2);
    assert.match(r.nodes[0]?.error?.message ?? "", /try 2 failed on purpose/);
    assert.equal(wf.triesIn(file).length, 2);
  });

  it("gives the config's [retry] to electrons whose lattice and selves set none", { timeout: 60_000 }, () => {
    const bin = fileURLToPath(new URL("../bin/valence.js", import.meta.url));
    const script = fileURLToPath(new URL("./fixtures/retry-config-run.ts", import.meta.url));
    const config = join(dataDir, "retry-config.toml");
    writeFileSync(config, "[retry]\nattempts = 3\nbackoff = 50\n");
    const run = (withConfig: boolean) => {
      const file = freshFile();
      const env = { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_SERVER: "embedded", VALENCE_CONFIG: withConfig ? config : join(dataDir, "none.toml") };
      const r = spawnSync(process.execPath, [bin, "run", script, "--", file, "2"], { env, encoding: "utf8", timeout: 60_000 });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      return { out: r.stdout.trim(), tries: wf.triesIn(file).length };
    };
    assert.deepEqual(run(true), { out: "status: COMPLETED attempts: 3", tries: 3 });
    assert.deepEqual(run(false), { out: "status: FAILED attempts: 1", tries: 1 });
  });

  it("cancels a node while it waits to retry: it ends CANCELLED at once and its retry never runs", async () => {
    const file = freshFile();
    const id = (await dispatch(wf.patientFlow)(file)) as DispatchId;
    const store = (await Engine.current()).store;
    while ((await store.getNodes(id))[0]?.retryAt == null) await sleep(20);
    await cancel(id);
    const r = await getResult(id, { wait: true });
    assert.equal(r.status, "CANCELLED");
    assert.equal(r.nodes[0]?.status, "CANCELLED");
    assert.equal(r.nodes[0]?.error?.message, "cancelled while it waited to retry");
    assert.equal(r.nodes[0]?.retryAt, undefined);
    assert.equal(wf.triesIn(file).length, 1);
  });

  it("refuses a bad retry option where it is written, naming what to fix", () => {
    const fn = (x: number) => x;
    assert.throws(() => electron(fn, { retry: 3 as never }), { name: "OptionsError", message: /"retry" must be an object such as \{ attempts: 3, backoff: 1000 \}, got number 3/ });
    assert.throws(() => electron(fn, { retry: { attempts: 0 } }), { name: "OptionsError", message: /"retry"\.attempts must be a whole number from 1 to 1001/ });
    assert.throws(() => electron(fn, { retry: { attempts: 2, backoff: -1 } }), { name: "OptionsError", message: /"retry"\.backoff must be a number of milliseconds ≥ 0, got number -1/ });
    assert.throws(() => electron(fn, { retry: { attempts: 2, backoff: { initial: 10, factor: 0.5 } } }), { message: /"retry"\.backoff\.factor must be a number ≥ 1/ });
    assert.throws(() => electron(fn, { retry: { attempts: 2, backoff: { intial: 10 } as never } }), { message: /"retry"\.backoff: unknown key "intial" \(known: initial, factor, jitter\)/ });
    assert.throws(() => electron(fn, { retry: { attempts: 2, backoff: 5000, maxDelay: 1000 } }), { message: /"retry"\.maxDelay \(1000 ms\) is shorter than the first delay \(5000 ms\)/ });
    assert.throws(() => electron(fn, { retry: { attempts: 2, on: [] } }), { message: /"retry"\.on must name at least one error/ });
    assert.throws(() => electron(fn, { retry: { attempts: 2, on: [42 as never] } }), { message: /"retry"\.on\[0\] must be an error name \(a string such as "TaskTimeoutError"\) or a RegExp, got number 42/ });
    assert.throws(() => electron(fn, { retry: { attempts: 2, tries: 3 } as never }), { message: /"retry": unknown key "tries" \(known: attempts, backoff, maxDelay, on\)/ });
    assert.throws(() => electron(fn, { retries: 2, retry: { attempts: 2 } }), { message: /give "retries" \(tries again at once\) or "retry" \(with a backoff\), not both/ });
    assert.throws(() => lattice(() => 1, { retry: { attempts: 1.5 } }), { name: "OptionsError", message: /lattice at .*"retry"\.attempts must be a whole number/ });
  });
});

describe("a retry waiting out its backoff when its dispatcher is killed", () => {
  const bin = fileURLToPath(new URL("../bin/valence.js", import.meta.url));
  const script = fileURLToPath(new URL("./fixtures/retry-run.ts", import.meta.url));
  const env = { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_SERVER: "embedded" };

  it("keeps its schedule: the resumed dispatch runs the next try at the stored due time, counting on, and the failed try never again", { timeout: 60_000 }, async () => {
    const file = freshFile();
    const child = spawn(process.execPath, [bin, "run", script, "--", file], { env, stdio: ["ignore", "pipe", "inherit"] });
    child.stdout.setEncoding("utf8");
    let out = "";
    for await (const chunk of child.stdout) {
      out += chunk as string;
      if (out.includes("\n")) break;
    }
    const id = out.trim() as DispatchId;
    assert.match(id, /^dsp_/);
    const store = (await Engine.current()).store;
    let retryAt: number | null = null;
    for (let i = 0; i < 400 && retryAt === null; i++) {
      retryAt = (await store.getNodes(id))[0]?.retryAt ?? null;
      if (retryAt === null) await sleep(25);
    }
    assert.ok(retryAt !== null, "the failed try's due time was never stored");
    const [first] = wf.triesIn(file);
    assert.ok(first && retryAt >= first.at + 3000, `due at ${retryAt}, the first try began at ${first?.at}: sooner than the backoff`);
    child.kill("SIGKILL");
    await once(child, "exit");

    const resumed = spawnSync(process.execPath, [bin, "resume", id], { env, encoding: "utf8", timeout: 60_000 });
    assert.equal(resumed.status, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, /status: COMPLETED/);
    const tries = wf.triesIn(file);
    assert.deepEqual(tries.map((t) => t.n), [1, 2], "the failed try ran again, or the retry did not run");
    assert.ok((tries[1] as { at: number }).at >= retryAt, `the retry ran ${retryAt - (tries[1] as { at: number }).at} ms before it was due`);
    const node = (await store.getNodes(id))[0];
    assert.equal(node?.attempts, 2, "the resumed dispatch started counting its tries again");
    assert.equal(node?.retryAt, null);
  });
});
