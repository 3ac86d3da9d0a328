/**
 * Advisory file locks the kernel releases the instant their holder dies.
 *
 * Node has no `flock`, so the lock is SQLite's own: a connection holding
 * `BEGIN EXCLUSIVE` on a small lock file keeps a POSIX `fcntl` write lock on
 * it. The kernel drops such a lock as soon as the holder exits or is killed,
 * before it turns into a zombie; a pid that lingers (zombie) or is reused by
 * another process cannot fool it. better-sqlite3 is already the store's
 * driver, so this costs no dependency and no native code of our own, and
 * SQLite also arbitrates between two connections inside one process, which a
 * bare `fcntl` would not.
 *
 * A lock file is never a store: it holds no table, and a probe only asks for
 * the shared lock a read would need.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { LockError } from "../../errors.js";

/** A lock this process holds until `release()` or its death. */
export class FileLock {
  private constructor(
    readonly path: string,
    private db: Database.Database | undefined,
  ) {}

  /** Takes the lock at `path` (creating the file), or returns undefined when another connection holds it. */
  static tryAcquire(path: string): FileLock | undefined {
    mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: 0 });
    } catch (error) {
      throw new LockError(`cannot open the lock file ${path}: ${(error as Error).message}`, { cause: error });
    }
    try {
      db.exec("BEGIN EXCLUSIVE");
      return new FileLock(path, db);
    } catch (error) {
      db.close();
      if (isBusy(error)) return undefined;
      throw new LockError(`cannot lock ${path}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Waits up to `waitMs` for the lock (a holder that is dying lets go within milliseconds). */
  static async acquire(path: string, waitMs: number): Promise<FileLock | undefined> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const lock = FileLock.tryAcquire(path);
      if (lock || Date.now() >= deadline) return lock;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  get held(): boolean {
    return this.db !== undefined;
  }

  release(): void {
    const db = this.db;
    this.db = undefined;
    db?.close();
  }
}

/**
 * Whether some connection (another process, or another one in this process)
 * holds the lock at `path`. A missing file is an unheld lock.
 */
export function isLockHeld(path: string): boolean {
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: 0, fileMustExist: true, readonly: true });
  } catch {
    return false; // no file: nobody ever locked it, or its holder removed it on the way out
  }
  try {
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    return false;
  } catch (error) {
    if (isBusy(error)) return true;
    throw new LockError(`cannot read the lock file ${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    db.close();
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED";
}
