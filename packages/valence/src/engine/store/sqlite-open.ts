/**
 * Opening the store's SQLite file, which many processes may do at the same
 * moment (embedded clients sharing a data dir, a server and its runners).
 * SQLite's busy handler covers the ordinary waits, but a few of its lock
 * states (a WAL being recovered or reset by the last connection's close, a
 * journal-mode switch) answer SQLITE_BUSY without calling it. Opening is
 * idempotent (the pragmas are settings; each migration re-checks the schema
 * version inside its own write transaction), so a busy open is simply retried
 * until a deadline.
 */
import Database from "better-sqlite3";
import { StoreError } from "../../errors.js";
import { migrate } from "./migrations.js";

export interface SqliteOpenOptions {
  /** How long an open may wait for other processes' locks in all; 15 s unless set. */
  readonly openTimeoutMs?: number;
}

/** The busy handler's wait per attempt while opening, and for every statement after. */
const OPEN_ATTEMPT_BUSY_MS = 1_000;
const BUSY_MS = 5_000;
const DEFAULT_OPEN_TIMEOUT_MS = 15_000;

export function openSqlite(file: string, options: SqliteOpenOptions = {}): Database.Database {
  const deadline = Date.now() + (options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS);
  for (let attempt = 1; ; attempt++) {
    let db: Database.Database | undefined;
    try {
      db = new Database(file, { timeout: Math.min(OPEN_ATTEMPT_BUSY_MS, Math.max(1, deadline - Date.now())) });
      configure(db);
      migrate(db, file);
      db.pragma(`busy_timeout = ${BUSY_MS}`);
      return db;
    } catch (error) {
      db?.close();
      if (error instanceof StoreError) throw error;
      const busy = isBusy(error);
      if (busy && Date.now() < deadline) {
        sleepSync(Math.min(20 * attempt, 200));
        continue;
      }
      const hint = busy
        ? `Other processes held it locked for ${options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS} ms; ` +
          `if one is stuck, stop it (valence stop) or set VALENCE_DATA_DIR to another directory`
        : `If the file is damaged, move it aside (Valence creates a new one) or set VALENCE_DATA_DIR to another directory`;
      throw new StoreError(`cannot open the store ${file}: ${(error as Error).message}. ${hint}`, { cause: error });
    }
  }
}

function configure(db: Database.Database): void {
  // Switching to WAL needs the file to itself; once set it is a property of the file, so most opens skip it.
  if (db.pragma("journal_mode", { simple: true }) !== "wal") db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  // Checkpoints run after a dispatch finishes (checkpointSoon), not inside the commit
  // of the dispatch that happens to cross SQLite's default 1,000-page mark; this is a cap.
  db.pragma("wal_autocheckpoint = 10000");
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"));
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** The store's constructor is synchronous, so its back-off is too (a few ms, only while another process holds the file). */
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
