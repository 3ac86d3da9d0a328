import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive, spawnService, stopPid } from "./processes.js";
import { ServiceStartError } from "./service-start-error.js";
import { waitUntil } from "./wait-until.js";
import { acquireFileLock } from "./file-lock.js";

describe("service processes", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "valence-procs-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("stops a process that ignores SIGTERM with SIGKILL after the grace period", async () => {
    const p = spawnService({
      name: "stubborn",
      command: "sh",
      args: ["-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"],
      logFile: join(dir, "stubborn.log"),
    });
    // SIGTERM before the trap is set would end the shell at once: wait for its "ready".
    await waitUntil({
      component: "sshd",
      what: "ready",
      check: async () => (await readFile(p.logFile, "utf8")).includes("ready"),
      watch: [p],
    });
    const t0 = Date.now();
    await p.stop(300);
    assert.ok(Date.now() - t0 >= 250);
    assert.equal(p.exit()?.signal, "SIGKILL");
    assert.equal(isAlive(p.pid), false);
  });

  it("fails fast with the log tail when a watched process exits", async () => {
    const p = spawnService({
      name: "crasher",
      command: "sh",
      args: ["-c", "echo 'bind: Address already in use' >&2; exit 3"],
      logFile: join(dir, "crasher.log"),
    });
    const t0 = Date.now();
    await assert.rejects(
      waitUntil({ component: "dask", what: "never", check: async () => false, watch: [p], timeoutMs: 10_000 }),
      (e: unknown) => {
        assert.ok(e instanceof ServiceStartError);
        assert.equal(e.name, "ServiceStartError");
        assert.equal(e.component, "dask");
        assert.match(e.message, /^dask: crasher exited with code 3 while waiting for never/);
        assert.match(e.message, /Address already in use/);
        return true;
      },
    );
    assert.ok(Date.now() - t0 < 5000);
  });

  it("reports a binary that does not exist as an exit, not a crash", async () => {
    const p = spawnService({ name: "ghost", command: join(dir, "no-such-binary"), args: [], logFile: join(dir, "ghost.log") });
    const exit = await p.exited;
    assert.ok(exit.error);
    await p.stop();
  });

  it("stop also kills what the process had forked", async () => {
    const p = spawnService({
      name: "parent",
      command: "sh",
      args: ["-c", "sleep 60 & echo $! > child.pid; wait"],
      logFile: join(dir, "parent.log"),
      cwd: dir,
    });
    await waitUntil({
      component: "sshd",
      what: "child",
      check: async () => (await readFile(join(dir, "child.pid"), "utf8")).trim() !== "",
      watch: [p],
    });
    const childPid = Number((await readFile(join(dir, "child.pid"), "utf8")).trim());
    assert.equal(isAlive(childPid), true);
    await p.stop(1000);
    assert.equal(isAlive(childPid), false);
  });

  it("stopPid ends a process it did not spawn", async () => {
    const p = spawnService({ name: "sleeper", command: "sleep", args: ["60"], logFile: join(dir, "sleeper.log") });
    await stopPid(p.pid, 1000);
    await p.exited;
    assert.equal(isAlive(p.pid), false);
  });
});

describe("acquireFileLock", () => {
  it("makes a second holder wait for the first to release", async () => {
    const path = join(tmpdir(), `valence-lock-test-${process.pid}`);
    const first = await acquireFileLock(path);
    let secondGot = false;
    const second = acquireFileLock(path).then((l) => {
      secondGot = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(secondGot, false);
    await first.release();
    await (await second).release();
    assert.equal(secondGot, true);
    await rm(path, { force: true });
  });
});
