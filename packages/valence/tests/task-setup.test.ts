// deps, callBefore/callAfter and files run where the task runs, on inline, local and a remote executor.
import "./fixtures/env.js";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

const dir = mkdtempSync(join(tmpdir(), "valence-setup-"));
process.env.VALENCE_TEST_SETUP_DIR = dir;
process.env.VALENCE_DEPS_DIR = join(dir, "npm-cache");
for (const sub of ["inline", "local", "remote", "remote-work"]) mkdirSync(join(dir, sub));
writeFileSync(join(dir, "input.txt"), "from the dispatcher");

const { DepsBash, DepsNpm, FileTransfer, OptionsError, dispatchSync, electron } = await import("../src/index.js");
const fx = await import("./fixtures/setup-workflows.js");

describe("task set-up", { timeout: 120_000 }, () => {
  it("runs bash deps, deps calls, callBefore, files in, the task, files out and callAfter, in that order, on every executor", async () => {
    const r = await dispatchSync(fx.setupFlow)("!");
    assert.equal(r.status, "COMPLETED", r.toString());
    assert.deepEqual(r.result, ["from the dispatcher!", "from the dispatcher!", "from the dispatcher!"]);
    const lines = readFileSync(join(dir, "order.log"), "utf8").trim().split("\n");
    for (const tag of ["inline", "local", "remote"]) {
      const mine = lines.filter((l) => l.endsWith(`-${tag}`));
      assert.deepEqual(mine, [`bash-${tag}`, `deps-call-${tag}`, `before-${tag}`, `task-${tag}`, `after-${tag}`]);
      assert.equal(readFileSync(join(dir, `output-back-${tag}.txt`), "utf8"), "from the dispatcher!");
    }
  });

  it("installs npm deps where the task runs, once per package set", async () => {
    const first = await dispatchSync(fx.npmFlow)(5);
    assert.equal(first.status, "COMPLETED", first.toString());
    assert.equal(first.result, true);
    const cache = join(dir, "npm-cache");
    const [setDir] = readdirSync(cache).filter((f) => !f.endsWith(".lock"));
    assert.ok(setDir);
    const marker = join(cache, setDir, ".valence-ready");
    const installedAt = readFileSync(marker, "utf8");
    assert.equal(installedAt, "is-number@7.0.0");
    const again = await dispatchSync(fx.npmFlow)("x");
    assert.equal(again.result, false);
    assert.deepEqual(readdirSync(cache).filter((f) => !f.endsWith(".lock")), [setDir]);
  });

  it("a failing bash dep fails the node with TaskSetupError naming the command and its exit code", async () => {
    const r = await dispatchSync(fx.badBashFlow)();
    assert.equal(r.status, "FAILED");
    const error = r.nodes[0]?.error;
    assert.equal(error?.name, "TaskSetupError");
    assert.match(error?.message ?? "", /DepsBash "echo nope >&2; exit 7" exited with 7: nope/);
  });

  it("a FileTransfer of a missing file fails the node with TaskSetupError naming both paths", async () => {
    const r = await dispatchSync(fx.missingFileFlow)();
    assert.equal(r.status, "FAILED");
    const error = r.nodes[0]?.error;
    assert.equal(error?.name, "TaskSetupError");
    assert.match(error?.message ?? "", /FileTransfer .*no-such-file\.txt → .*copy\.txt \(before the task\)/);
  });

  it("bad set-up options are refused where they are written", () => {
    assert.throws(() => DepsNpm([]), /give a non-empty array of npm package specs/);
    assert.throws(() => DepsNpm(["not a spec!"]), /"not a spec!" is not an npm package spec/);
    assert.throws(() => DepsBash([]), /give a shell command or a non-empty array/);
    assert.throws(() => FileTransfer("a", "b", { order: "during" as "before" }), /order must be "before" or "after"/);
    assert.throws(() => electron(() => 1, { deps: [42 as never] }), (e: unknown) => e instanceof OptionsError && /"deps"\[0\] must be made with DepsNpm, DepsBash, DepsCall or FileTransfer/.test(e.message));
    assert.throws(() => electron(() => 1, { callBefore: [DepsBash("true") as never] }), /"callBefore"\[0\] must be made with DepsCall/);
  });
});
