// A disk that fills up under a running server, for real: the data dir is a small tmpfs. The
// dispatch that cannot be written fails with an error naming the data dir and the cause; the
// server keeps serving what is stored; a dispatch sent meanwhile is refused with a 507 that
// says what to free; once there is space again, the failed dispatch is redispatched (its
// completed nodes reused) and completes, and nothing stored before was lost.
import { dataDir as root } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { freePort } from "./fixtures/free-port.js";
import { killAllOn } from "./fixtures/processes.js";

const bin = fileURLToPath(new URL("../bin/valence.js", import.meta.url));
const mountPoint = join(root, "disk");
const dataDir = join(mountPoint, "data");
const filler = join(mountPoint, "filler");
let server: ChildProcess | undefined;
let mounted = false;

before(() => {
  mkdirSync(mountPoint, { recursive: true });
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", mountPoint], { encoding: "utf8" });
  assert.equal(r.status, 0, `cannot mount a 24 MB tmpfs for the data dir (this test needs root): ${r.stderr}`);
  mounted = true;
});

after(async () => {
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    await once(server, "exit");
  }
  killAllOn(dataDir);
  if (mounted) spawnSync("umount", ["-l", mountPoint]);
  rmSync(root, { recursive: true, force: true });
});

/** Fills the disk, then gives back `slack` bytes: small writes fit, a large output does not. */
function fillDisk(slack: number): void {
  const fd = openSync(filler, "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, "ENOSPC");
  } finally {
    closeSync(fd);
  }
  spawnSync("truncate", ["-s", String(Math.max(0, written - slack)), filler]);
}

it("fails the dispatch it cannot write with the data dir and the cause, keeps serving, and redispatches once there is space", { timeout: 120_000 }, async () => {
  const port = await freePort();
  server = spawn(process.execPath, [bin, "start", "--foreground", "--port", String(port)], {
    env: { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_SERVER: "" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    assert.ok(i < 300 && server.exitCode === null, "the server did not start");
    try {
      if ((await fetch(`${url}/api/v1/health`)).ok) break;
    } catch {
      /* not yet */
    }
    await sleep(50);
  }
  process.env.VALENCE_SERVER = url;
  const { dispatch, getResult, redispatch } = await import("../src/index.js");
  const { bulkyFlow, sizeFlow, timingWorkflow } = await import("./fixtures/server-workflows.js");

  const kept = await dispatch(timingWorkflow)(3, 4);
  assert.equal((await getResult(kept, { wait: true })).result, 28);

  // 8 outputs of 1 MB each (files in the results dir), written after a 1.5 s first task.
  const MB = 1024 * 1024;
  const id = await dispatch(bulkyFlow)(8, MB, 1500);
  await sleep(500);
  fillDisk(256 * 1024);
  const failed = await getResult(id, { wait: true });
  assert.equal(failed.status, "FAILED");
  assert.match(failed.error?.message ?? "", new RegExp(`cannot write to the store in ${dataDir}: .*(ENOSPC|no space left|disk is full)`, "i"));
  assert.match(failed.error?.message ?? "", /Free space there/);

  // Still serving what is stored.
  assert.equal((await fetch(`${url}/api/v1/health`)).status, 200);
  assert.equal((await getResult(kept)).result, 28);
  // A dispatch whose 2 MB argument has no room is refused, saying why.
  await assert.rejects(dispatch(sizeFlow)("y".repeat(2 * MB)), (e: Error) => {
    return /cannot write to its data dir|cannot write to the store/.test(e.message) && /no space|ENOSPC/i.test(e.message);
  });

  // Space again: the failed dispatch runs again, its completed nodes reused.
  rmSync(filler);
  const again = await redispatch(id, { reusePreviousResults: true });
  const done = await getResult(again, { wait: true });
  assert.equal(done.status, "COMPLETED", done.error?.message);
  const outputs = done.result as string[];
  assert.equal(outputs.length, 8);
  outputs.forEach((o, i) => assert.ok(o.startsWith(`${i}:`) && o.length === MB));

  server.kill("SIGTERM");
  await once(server, "exit");
  const db = new Database(join(dataDir, "valence.db"), { readonly: true });
  try {
    assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
  } finally {
    db.close();
  }
});
