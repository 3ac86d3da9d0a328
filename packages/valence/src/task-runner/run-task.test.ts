import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { readTaskFile, TaskPackageError } from "./run-task.js";

const RUNNER = fileURLToPath(new URL("../../dist/valence-task.mjs", import.meta.url));
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "valence-task-file-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("a missing task.json is a TaskPackageError naming the file", async () => {
  await assert.rejects(readTaskFile(join(dir, "nowhere")), (e: unknown) => {
    assert.ok(e instanceof TaskPackageError);
    assert.match(e.message, /cannot read .*nowhere\/task\.json/);
    return true;
  });
});

test("a task.json of another format says to use the same valence version on both sides", async () => {
  await writeFile(join(dir, "task.json"), JSON.stringify({ format: 99 }));
  await assert.rejects(readTaskFile(dir), /has format 99; this valence-task reads format 1: use the same valence version/);
});

test("a task.json missing a field names it", async () => {
  await writeFile(join(dir, "task.json"), JSON.stringify({ format: 1, bundle: "b.mjs", electronId: "x", args: "[]" }));
  await assert.rejects(readTaskFile(dir), /"electronName" must be a string/);
});

test("valence-task exits 2 with the reason for a bad package, and prints usage without one", () => {
  const bad = spawnSync(process.execPath, [RUNNER, join(dir, "nowhere")], { encoding: "utf8" });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /valence-task: cannot read/);
  const usage = spawnSync(process.execPath, [RUNNER], { encoding: "utf8" });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /usage: valence-task TASK_DIR/);
});
