// The server as a user drives it from the shell: the built `valence` bin, a real background
// server on loopback, and the TimingExecutor example dispatched to it by `valence run`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { freePort } from "./fixtures/free-port.js";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const bin = join(repo, "packages/valence/bin/valence.js");
const dataDir = mkdtempSync(join(tmpdir(), "valence-server-cli-"));
const env: NodeJS.ProcessEnv = { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_CONFIG: join(dataDir, "valence.toml") };
delete env.VALENCE_SERVER;

function valence(args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: opts.cwd ?? repo, env, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}


after(() => {
  valence(["stop"]);
  rmSync(dataDir, { recursive: true, force: true });
});

describe("valence start / status / run / list / result / redispatch / watch / logs / stop", () => {
  let port = 0;
  let dispatchId = "";

  it("says no server runs before one is started (exit 3)", () => {
    const r = valence(["status"]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /Valence server: not running \(data dir .*\); dispatches run embedded/);
  });

  it("starts one in the background, and refuses a second on the same data dir", async () => {
    port = await freePort();
    const r = valence(["start", "--port", String(port)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Valence server started: http://127\\.0\\.0\\.1:${port} \\(pid \\d+\\)`));
    assert.ok(existsSync(join(dataDir, "server.json")));
    const again = valence(["start", "--port", String(port)]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /ServerStateError \[SERVER_STATE\]: a server already runs on data dir/);
  });

  it("reports where it runs, since when, and what it runs", () => {
    const r = valence(["status"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`running at http://127\\.0\\.0\\.1:${port} \\(pid \\d+, version [\\d.]+\\)`));
    assert.match(r.stdout, /since: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    assert.match(r.stdout, /running: +0 dispatches/);
  });

  it("runs the TimingExecutor example through it: the result, and the log in the user's directory", () => {
    const work = mkdtempSync(join(tmpdir(), "valence-example-"));
    const r = valence(["run", join(repo, "examples/timing-executor/workflow.ts")], { cwd: work });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Lattice Result\n==============\nstatus: COMPLETED\nresult: 28\n/);
    dispatchId = /dispatch_id: (dsp_\w+)/.exec(r.stdout)?.[1] ?? "";
    assert.match(r.stdout, new RegExp(`results_dir: ${dataDir}/results/${dispatchId}`), "the server's data dir holds the results");
    assert.match(readFileSync(join(work, "cpu_timing.log"), "utf8"), new RegExp(`Node 3 in dispatch ${dispatchId} took`));
    rmSync(work, { recursive: true, force: true });
  });

  it("lists it and prints its result from another process", () => {
    const list = valence(["list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${dispatchId} +COMPLETED +workflow +5/5`));
    const result = valence(["result", dispatchId]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /multiply\(3\): 28/);
  });

  it("redispatches it reusing its results, and follows the new one live", () => {
    const r = valence(["redispatch", dispatchId, "--reuse"]);
    assert.equal(r.code, 0, r.stderr);
    const again = r.stdout.trim();
    assert.match(again, /^dsp_/);
    const watch = valence(["watch", again]);
    assert.equal(watch.code, 0, watch.stderr);
    assert.match(watch.stdout, new RegExp(`^${again} (NEW_OBJECT|RUNNING|COMPLETED): \\d/5 nodes completed`));
    const result = valence(["result", again, "--wait"]);
    assert.match(result.stdout, /result: 28/);
  });

  it("cancels from the shell: an unknown node is refused by name", () => {
    const r = valence(["cancel", dispatchId, "99"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /NODE_NOT_FOUND.*no such node: 99/);
  });

  it("shows its log", () => {
    const r = valence(["logs", "-n", "500"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`listening on http://127\\.0\\.0\\.1:${port}`));
    assert.match(r.stdout, new RegExp(`dispatch ${dispatchId} COMPLETED`));
  });

  it("lets only one of two servers started at the same moment on one data dir run", async () => {
    const { spawn } = await import("node:child_process");
    const dir = mkdtempSync(join(tmpdir(), "valence-race-"));
    const start = () =>
      spawn(process.execPath, [bin, "start", "--foreground", "--port", "0"], { env: { ...env, VALENCE_DATA_DIR: dir }, stdio: ["ignore", "pipe", "pipe"] });
    const both = [start(), start()];
    const outputs = both.map((c) => {
      let text = "";
      c.stdout?.on("data", (d: Buffer) => (text += d.toString()));
      c.stderr?.on("data", (d: Buffer) => (text += d.toString()));
      return () => text;
    });
    try {
      // The loser exits by itself, saying why; then the winner is stopped.
      const loser = await Promise.race(both.map((c, i) => once(c, "exit").then(([code]) => ({ i, code: code as number }))));
      assert.equal(loser.code, 1);
      assert.match(outputs[loser.i]?.() ?? "", /a Valence server already runs on data dir .* \(pid \d+\)/);
      assert.equal(both[1 - loser.i]?.exitCode, null, "the other one still runs");
    } finally {
      // Also when an assertion failed: a server left running would keep this test file from ending.
      for (const c of both) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
      await Promise.all(both.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, "exit") : undefined)));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("stops, and says so; then nothing runs", () => {
    const r = valence(["stop"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Valence server stopped \(pid \d+\)/);
    assert.ok(!existsSync(join(dataDir, "server.json")));
    assert.equal(valence(["status"]).code, 3);
    const again = valence(["stop"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no server runs on data dir/);
  });
});
