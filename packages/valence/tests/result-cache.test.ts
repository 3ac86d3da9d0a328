// The result cache across dispatches, on the embedded engine and its real SQLite store: a task
// whose code and inputs a completed run has seen is not run again, and says where its output
// came from; changed inputs or code miss; a ttl runs out; failures are never kept; `valence
// cache ls|clear` and purge remove entries. Runs are counted by the lines each task appends.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { dispatchSync, electron } from "../src/index.js";
import { OptionsError } from "../src/sdk/options.js";
import { Engine } from "../src/engine/index.js";
import { purge, planDelete } from "../src/engine/purge.js";
import type { DispatchId } from "../src/ids.js";
import * as wf from "./fixtures/cache-workflows.js";

const bin = fileURLToPath(new URL("../bin/valence.js", import.meta.url));
const env = { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_SERVER: "embedded" };
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, "cache", ...args], { env, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
let logs = 0;
const freshLog = () => join(dataDir, `runs-${++logs}.log`);
const store = async () => (await Engine.current()).store;

describe("the result cache", () => {
  it("reuses a completed run's outputs in a later dispatch, and says which dispatch and node made them", async () => {
    const log = freshLog();
    const first = await dispatchSync(wf.sumOfSquares)(log, 3, 4);
    assert.equal(first.result, 25);
    assert.deepEqual(wf.runsIn(log).sort(), ["add 9 16", "square 3", "square 4"], "three tasks ran");
    for (const n of first.nodes) assert.equal(n.cachedFrom, undefined);

    const second = await dispatchSync(wf.sumOfSquares)(log, 3, 4);
    assert.equal(second.status, "COMPLETED");
    assert.equal(second.result, 25);
    assert.equal(wf.runsIn(log).length, 3, "nothing ran again");
    const electrons = second.nodes.filter((n) => n.kind === "electron");
    assert.equal(electrons.length, 3);
    for (const n of electrons) {
      assert.deepEqual(n.cachedFrom, { dispatchId: first.dispatchId, nodeId: n.nodeId }, `${n.name}(${n.nodeId})`);
      assert.deepEqual(n.output, first.nodes[n.nodeId]?.output);
    }
    const events = await (await store()).getEvents(second.dispatchId as DispatchId);
    assert.deepEqual(
      events.filter((e) => e.kind === "cached").map((e) => e.detail).sort(),
      electrons.map((n) => `result of dispatch ${first.dispatchId} node ${n.nodeId}`).sort(),
    );
    const entries = await (await store()).cacheEntries();
    assert.equal(entries.filter((e) => e.dispatchId === first.dispatchId).length, 3);
    assert.deepEqual(new Set(entries.filter((e) => e.dispatchId === first.dispatchId).map((e) => e.hits)), new Set([1]));
  });

  it("misses when an input changes (only the tasks it reaches run) and when the code changes", async () => {
    const log = freshLog();
    await dispatchSync(wf.sumOfSquares)(log, 5, 6);
    assert.equal(wf.runsIn(log).length, 3);
    // y changes: square(5) is reused, square(7) and add (its input changed) run.
    const r = await dispatchSync(wf.sumOfSquares)(log, 5, 7);
    assert.equal(r.result, 74);
    assert.deepEqual(wf.runsIn(log).slice(3).sort(), ["add 25 49", "square 7"]);
    assert.equal(r.nodes.filter((n) => n.cachedFrom).length, 1);

    // The same inputs, a function whose text differs: a different key.
    const code = freshLog();
    await dispatchSync(wf.originalFlow)(code, 8);
    await dispatchSync(wf.editedFlow)(code, 8);
    await dispatchSync(wf.editedFlow)(code, 8);
    assert.deepEqual(wf.runsIn(code), ["square 8", "square 8"], "the edited function ran once, then was reused");
  });

  it("runs an electron without cache every time, lets a ttl run out, and keys on the version", async () => {
    const log = freshLog();
    await dispatchSync(wf.plainFlow)(log);
    await dispatchSync(wf.plainFlow)(log);
    assert.equal(wf.runsIn(log).length, 2);

    const brief = freshLog();
    await dispatchSync(wf.briefFlow)(brief);
    const within = await dispatchSync(wf.briefFlow)(brief);
    // How soon the second dispatch came is the machine's business: a hit within the ttl, or a run after it.
    const reused = within.nodes[0]?.cachedFrom !== undefined;
    assert.equal(wf.runsIn(brief).length, reused ? 1 : 2);
    await sleep(350);
    const after = await dispatchSync(wf.briefFlow)(brief);
    assert.equal(after.nodes[0]?.cachedFrom, undefined, "the ttl ran out: it ran again");
    assert.equal(wf.runsIn(brief).length, reused ? 2 : 3);
    const entries = await (await store()).cacheEntries();
    const e = entries.find((x) => x.dispatchId === after.dispatchId);
    assert.ok(e && e.expiresAt !== null && e.expiresAt - e.createdAt === 300, "the entry lasts its ttl from when it was made");

    const v = freshLog();
    await dispatchSync(wf.versionedFlow)(v);
    await dispatchSync(wf.versionedFlow)(v);
    assert.equal(wf.runsIn(v).length, 1);
  });

  it("never keeps a failure: the task runs again, and its success is what is reused", async () => {
    const log = freshLog();
    const marker = join(dataDir, `flaky-${logs}`);
    const failed = await dispatchSync(wf.flakyFlow)(log, marker);
    assert.equal(failed.status, "FAILED");
    const ok = await dispatchSync(wf.flakyFlow)(log, marker);
    assert.equal(ok.status, "COMPLETED");
    assert.equal(ok.nodes[0]?.cachedFrom, undefined);
    const again = await dispatchSync(wf.flakyFlow)(log, marker);
    assert.deepEqual(again.nodes[0]?.cachedFrom, { dispatchId: ok.dispatchId, nodeId: 0 });
    assert.equal(wf.runsIn(log).length, 2);
  });

  it("valence cache ls lists the entries and clear removes them, so the tasks run again; a purge removes a dispatch's entries", { timeout: 120_000 }, async () => {
    const log = freshLog();
    const made = await dispatchSync(wf.sumOfSquares)(log, 10, 11);
    const ls = cli("ls", "--electron", "square");
    assert.equal(ls.code, 0, ls.err);
    const lines = ls.out.trim().split("\n");
    assert.match(lines[0] ?? "", /^KEY +ELECTRON +MADE BY \(DISPATCH\/NODE\) +CREATED +EXPIRES +HITS$/);
    assert.ok(lines.some((l) => l.includes(`${made.dispatchId}/`) && /\bsquare\b/.test(l) && /\bnever\b/.test(l)), ls.out);
    assert.ok(lines.slice(1).every((l) => /\bsquare\b/.test(l)), "--electron keeps to square");
    const json = JSON.parse(cli("ls", "--json").out) as Array<{ dispatchId: string; electron: string }>;
    assert.equal(json.filter((e) => e.dispatchId === made.dispatchId).length, 3);

    const cleared = cli("clear", "--electron", "add");
    assert.equal(cleared.code, 0, cleared.err);
    assert.match(cleared.out, /^removed \d+ cache entr(y|ies)\n$/);
    const r = await dispatchSync(wf.sumOfSquares)(log, 10, 11);
    assert.deepEqual(wf.runsIn(log).slice(3), ["add 100 121"], "only add ran again");
    assert.equal(r.nodes.filter((n) => n.cachedFrom).length, 2);

    // Purging the dispatch that made square's entries takes them with it.
    const s = await store();
    await purge(s, await planDelete(s, (await s.getDispatch(made.dispatchId))!));
    assert.equal((await s.cacheEntries()).filter((e) => e.dispatchId === made.dispatchId).length, 0);
    await dispatchSync(wf.sumOfSquares)(log, 10, 11);
    assert.deepEqual(wf.runsIn(log).slice(4).sort(), ["square 10", "square 11"]);

    const all = cli("clear");
    assert.equal(all.code, 0, all.err);
    assert.equal((await s.cacheEntries()).length, 0);
    assert.equal(cli("ls").out, "no cached results\n");
  });

  it("refuses a bad cache option where the electron is written, and a bad cache command with its usage", () => {
    const bad = (cache: unknown) => () => electron((x: number) => x, { cache } as never);
    assert.throws(bad("yes"), (e: Error) => e instanceof OptionsError && /"cache" must be true, false or \{ ttl, version \}, got string "yes"/.test(e.message));
    assert.throws(bad({ ttl: -1 }), (e: Error) => e instanceof OptionsError && /"cache.ttl" must be a number of milliseconds > 0, got number -1/.test(e.message));
    assert.throws(bad({ tll: 5 }), (e: Error) => e instanceof OptionsError && /unknown "cache" option "tll" \(known: ttl, version\)/.test(e.message));
    assert.throws(bad({ version: "" }), (e: Error) => e instanceof OptionsError && /"cache.version" must be a non-empty string/.test(e.message));
    const none = cli();
    assert.equal(none.code, 2);
    assert.match(none.err, /say what to do: valence cache ls, or valence cache clear/);
    const wrong = cli("rm");
    assert.equal(wrong.code, 2);
    assert.match(wrong.err, /unknown cache command "rm": use ls or clear/);
    const flag = cli("ls", "--expired");
    assert.equal(flag.code, 2);
    assert.match(flag.err, /--expired/);
  });
});
