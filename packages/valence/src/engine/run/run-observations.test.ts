// What a dispatch run tells its observer (engine/observe/observation.ts): a real embedded
// dispatch on a SQLite store in a temp dir, inline tasks.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { NodeEnded, Observation } from "../observe/observation.js";

const dir = mkdtempSync(join(tmpdir(), "valence-observe-"));
process.env.VALENCE_DATA_DIR = dir;
process.env.VALENCE_CONFIG = join(dir, "no-config.toml");

const { dispatchSync, electron, lattice } = await import("../../index.js");
const { Engine } = await import("../engine.js");

let tries = 0;
const add = electron((x: number, y: number) => x + y, { executor: "inline" });
const flaky = electron((x: number) => {
  if (++tries === 1) throw new Error("first try fails");
  return x * 2;
}, { executor: "inline", retries: 1 });
const wf = lattice((x: number, y: number) => flaky(add(x, y)));

const heard: Observation[] = [];
before(async () => {
  (await Engine.current()).runOptions = { observer: { observe: (o) => heard.push(o) } };
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("a run's observations", () => {
  it("tell the start, each attempt with its executor, times and outcome, and the end, in that order", async () => {
    heard.length = 0;
    const r = await dispatchSync(wf)(3, 4);
    assert.equal(r.status, "COMPLETED");
    assert.equal(r.result, 14);
    const mine = heard.filter((o) => o.kind !== "store-write");
    assert.deepEqual(
      mine.map((o) => (o.kind === "node-ended" ? `${o.name}#${o.attempt}:${o.status}${o.retrying ? "(retrying)" : ""}@${o.executor}` : o.kind)),
      ["dispatch-started", "add#1:COMPLETED@inline", "flaky#1:FAILED(retrying)@inline", "flaky#2:COMPLETED@inline", "dispatch-ended"],
    );
    assert.ok(mine.every((o) => o.dispatchId === r.dispatchId));
    const ended = mine.at(-1);
    assert.equal(ended?.kind === "dispatch-ended" && ended.status, "COMPLETED");
    for (const n of mine.filter((o): o is NodeEnded => o.kind === "node-ended")) {
      assert.ok(n.handedOverAt > 0 && n.handedOverAt <= n.endedAt, `${n.name}: handed over ${n.handedOverAt}, ended ${n.endedAt}`);
      if (n.startedAt !== null) assert.ok(n.startedAt >= n.handedOverAt && n.startedAt <= n.endedAt);
    }
  });

  it("name no executor for nodes no executor runs (attribute, index, collection)", async () => {
    heard.length = 0;
    const shapes = lattice((x: number) => {
      const p = electron((v: number) => ({ a: v }), { executor: "inline", name: "mk" })(x);
      return add(p.a, 1);
    });
    const r = await dispatchSync(shapes)(1);
    assert.equal(r.status, "COMPLETED");
    const nodes = heard.filter((o): o is NodeEnded => o.kind === "node-ended");
    assert.deepEqual(nodes.map((n) => [n.name, n.nodeKind, n.executor]), [["mk", "electron", "inline"], ["mk.a", "attribute", null], ["add", "electron", "inline"]]);
  });
});
