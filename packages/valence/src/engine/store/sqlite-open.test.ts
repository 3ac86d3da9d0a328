import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { SqliteStore } from "./sqlite-store.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const holders: ChildProcess[] = [];
after(() => holders.forEach((h) => h.kill("SIGKILL")));

/** Another process that takes the file's exclusive lock and keeps it for `ms` (a writer mid-migration, say). */
async function holdLocked(file: string, ms: number): Promise<void> {
  const script = `
    const db = new (require("better-sqlite3"))(${JSON.stringify(file)});
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("CREATE TABLE IF NOT EXISTS held (x)");
    db.exec("BEGIN EXCLUSIVE"); db.exec("INSERT INTO held VALUES (1)");
    process.stdout.write("held\\n");
    setTimeout(() => { db.exec("COMMIT"); db.close(); }, ${ms});`;
  const child = spawn(process.execPath, ["-e", script], { cwd: here, stdio: ["ignore", "pipe", "inherit"] });
  holders.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`the lock holder exited ${code} before holding the lock`)));
  });
}

// One at a time: the constructor waits synchronously, so a second test's lock would expire meanwhile.
describe("opening the SQLite store while other processes hold it", () => {
  it("waits out a lock held longer than SQLite's own busy wait (5 s) and opens", async () => {
    const d = mkdtempSync(join(tmpdir(), "valence-open-"));
    await holdLocked(join(d, "valence.db"), 6_000);
    const store = new SqliteStore(d);
    assert.equal(store.db.pragma("journal_mode", { simple: true }), "wal");
    assert.equal((await store.listDispatches()).length, 0);
    await store.close();
  });

  it("gives up at its deadline with an error naming the file and what to do", async () => {
    const d = mkdtempSync(join(tmpdir(), "valence-open-"));
    await holdLocked(join(d, "valence.db"), 6_000);
    assert.throws(() => new SqliteStore(d, { openTimeoutMs: 1_500 }), {
      name: "StoreError",
      message: /cannot open the store .*valence\.db: database is locked\. Other processes held it locked for 1500 ms; if one is stuck, stop it/,
    });
  });
});
