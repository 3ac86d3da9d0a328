// An embedded `valence run` killed with -9 mid-dispatch: its dispatch is not lost. `valence resume`
// finishes it from the store (completed steps are not run again), and refuses while the
// process that runs it is alive, so one dispatch never has two dispatchers.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../bin/valence.js", import.meta.url));
const script = fileURLToPath(new URL("./fixtures/embedded-chain.ts", import.meta.url));
const env = { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_SERVER: "embedded" };

function valence(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("valence resume", () => {
  const STEPS = 12;
  const file = join(dataDir, "steps.log");
  const stepsRun = () => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").length : 0);
  let id = "";

    // Steps of 400 ms: `valence resume` below must find the dispatch still running, and starting a
    // node process on a loaded machine can take over a second.
  it("refuses a dispatch whose process still runs it, then finishes it once that process is killed", { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, [bin, "run", script, "--", file, String(STEPS), "400"], { env, stdio: ["ignore", "pipe", "inherit"] });
    child.stdout.setEncoding("utf8");
    let out = "";
    for await (const chunk of child.stdout) {
      out += chunk as string;
      if (out.includes("\n")) break;
    }
    id = out.trim();
    assert.match(id, /^dsp_/);
    while (stepsRun() < 4) await sleep(20);

    const busy = valence(["resume", id]);
    assert.equal(busy.code, 1, busy.stdout + busy.stderr);
    assert.match(busy.stderr, new RegExp(`DispatchOwnedError \\[DISPATCH_OWNED\\]: dispatch ${id} is being run by another process \\(pid ${child.pid} `));

    child.kill("SIGKILL");
    await once(child, "exit");
    const before = stepsRun();
    assert.ok(before < STEPS, "the dispatch finished before it was killed; make it longer");

    const resumed = valence(["resume", id]);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, /status: COMPLETED/);
    assert.match(resumed.stdout, new RegExp(`result: ${STEPS}\\n`));
    const lines = readFileSync(file, "utf8").trim().split("\n");
    for (let s = 0; s < STEPS; s++) assert.ok(lines.includes(`s${s}`), `step s${s} never ran`);
    assert.ok(lines.length <= STEPS + 1, `${lines.length} runs of ${STEPS} steps after one kill: completed steps ran again`);
  });

  it("refuses a dispatch that has finished, and --all finds nothing left", () => {
    const again = valence(["resume", id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`dispatch ${id} is COMPLETED: there is nothing to resume`));
    const all = valence(["resume", "--all"]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /nothing to resume/);
  });

  it("goes on with a sublattice's own run where it was: its completed steps do not run again", { timeout: 60_000 }, async () => {
    const nestedFile = join(dataDir, "nested-steps.log");
    const child = spawn(process.execPath, [bin, "run", script, "--", nestedFile, String(STEPS), "150", "nested"], { env, stdio: ["ignore", "pipe", "inherit"] });
    child.stdout.setEncoding("utf8");
    let out = "";
    for await (const chunk of child.stdout) {
      out += chunk as string;
      if (out.includes("\n")) break;
    }
    const nestedId = out.trim();
    const count = () => (existsSync(nestedFile) ? readFileSync(nestedFile, "utf8").trim().split("\n").length : 0);
    while (count() < 5) await sleep(20);
    child.kill("SIGKILL");
    await once(child, "exit");
    const resumed = valence(["resume", nestedId]);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`result: ${STEPS}\\n`));
    const lines = readFileSync(nestedFile, "utf8").trim().split("\n");
    for (let s = 0; s < STEPS; s++) assert.ok(lines.includes(`s${s}`), `step s${s} never ran`);
    assert.ok(lines.length <= STEPS + 1, `${lines.length} runs of ${STEPS} steps after one kill: the sublattice started over`);
  });

  it("names what is wrong with its arguments", () => {
    const bad = valence(["resume", "nope"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a dispatch id: nope/);
    const none = valence(["resume"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /expected dispatch IDs, or --all/);
    const both = valence(["resume", "--all", id]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /not both/);
    const unknown = valence(["resume", "dsp_00000000000000000000000000"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /dsp_00000000000000000000000000/);
  });
});
