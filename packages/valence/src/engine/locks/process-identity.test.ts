import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { identify, isRunning } from "./process-identity.js";

it("knows this process, and not a process that got its pid later (another start time)", () => {
  const me = identify();
  assert.equal(me.pid, process.pid);
  assert.match(me.startTicks ?? "", /^\d+$/);
  assert.equal(isRunning(me), true);
  assert.equal(isRunning({ pid: process.pid, startTicks: String(Number(me.startTicks) + 1) }), false);
});

it("counts a zombie as dead, though kill(pid, 0) still succeeds on it", async () => {
  // `sh` starts a short child and then becomes `sleep`, which never waits for it: once the child ends it stays a zombie.
  const parent = spawn("sh", ["-c", "sleep 0.2 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const pid = Number(await new Promise<string>((resolve) => parent.stdout.once("data", (b: Buffer) => resolve(b.toString().trim()))));
    let state = "";
    for (let i = 0; i < 500 && state !== "Z"; i++) {
      await sleep(10);
      state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] ?? "";
    }
    assert.equal(state, "Z", "the child became a zombie");
    assert.doesNotThrow(() => process.kill(pid, 0), "a pid check alone calls it alive");
    assert.equal(isRunning({ pid, startTicks: undefined }), false);
  } finally {
    parent.kill("SIGKILL");
  }
});

it("counts a process that is gone as dead", async () => {
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((r) => child.once("exit", r));
  assert.equal(isRunning({ pid: child.pid as number, startTicks: undefined }), false);
});
