import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { LockError } from "../../errors.js";
import { FileLock, isLockHeld } from "./file-lock.js";

const dir = mkdtempSync(join(tmpdir(), "valence-lock-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// A holder in another process, as a server or a runner would be: it prints "held" once it has the lock.
const require = createRequire(import.meta.url);
const HOLDER = `
  const Database = require(${JSON.stringify(require.resolve("better-sqlite3"))});
  const db = new Database(process.argv[1], { timeout: 0 });
  db.exec("BEGIN EXCLUSIVE");
  process.stdout.write("held\\n");
  setInterval(() => {}, 1000);
`;

function holder(path: string) {
  const child = spawn(process.execPath, ["-e", HOLDER, path], { stdio: ["ignore", "pipe", "inherit"] });
  const held = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (b: Buffer) => b.toString().includes("held") && resolve());
    child.once("exit", (code) => reject(new Error(`holder exited with ${code}`)));
  });
  return { child, held };
}

describe("FileLock", () => {
  it("is held by one connection at a time, in this process too, and free again after release", () => {
    const path = join(dir, "a.lock");
    assert.equal(isLockHeld(path), false, "a lock with no file is free");
    const lock = FileLock.tryAcquire(path);
    assert.ok(lock);
    assert.equal(isLockHeld(path), true);
    assert.equal(FileLock.tryAcquire(path), undefined, "a second connection in the same process does not get it");
    lock.release();
    assert.equal(lock.held, false);
    assert.equal(isLockHeld(path), false);
    const again = FileLock.tryAcquire(path);
    assert.ok(again, "released, it can be taken again");
    again.release();
  });

  it("is free the moment its holder is killed, before anyone reaps it", async () => {
    const path = join(dir, "b.lock");
    const h = holder(path);
    await h.held;
    assert.equal(isLockHeld(path), true);
    assert.equal(FileLock.tryAcquire(path), undefined);
    h.child.kill("SIGKILL");
    // Synchronous from here: this event loop cannot reap the child (it stays a zombie) until the loop ends.
    let free = false;
    for (let i = 0; i < 200_000 && !free; i++) free = !isLockHeld(path);
    assert.equal(free, true, "the lock was still held after its holder got SIGKILL");
    const lock = FileLock.tryAcquire(path);
    assert.ok(lock, "a new owner takes it at once");
    lock.release();
  });

  it("waits for a holder that lets go (acquire), and gives up after its wait", async () => {
    const path = join(dir, "c.lock");
    const h = holder(path);
    await h.held;
    assert.equal(await FileLock.acquire(path, 100), undefined, "still held after 100 ms");
    setTimeout(() => h.child.kill("SIGKILL"), 100);
    const lock = await FileLock.acquire(path, 10_000);
    assert.ok(lock);
    lock.release();
  });

  it("says which file it cannot lock when the reason is not another holder (a directory in its place)", () => {
    const path = join(dir, "a-dir.lock");
    mkdirSync(path);
    assert.throws(() => FileLock.tryAcquire(path), (e: unknown) => e instanceof LockError && e.message.includes(path));
  });

  it("refuses a file that is not a lock (a damaged or foreign file) with a LockError naming it", () => {
    const path = join(dir, "junk.lock");
    writeFileSync(path, "this is not a database, it is just text that happens to be long enough to matter ".repeat(20));
    assert.throws(() => FileLock.tryAcquire(path), (e: unknown) => e instanceof LockError && e.message.includes(path));
    assert.throws(() => isLockHeld(path), (e: unknown) => e instanceof LockError && e.message.includes(path));
  });
});
