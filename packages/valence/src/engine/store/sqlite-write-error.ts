/** A failed SQLite write, told apart from a refusal of the code that writes, and said in words. */
import { StoreWriteError } from "../../errors.js";

/** Errors of the disk under the store, as opposed to errors of the code that writes. */
const DISK_ERRNOS = new Set(["ENOSPC", "EDQUOT", "EROFS", "EIO", "EACCES", "EPERM"]);

/**
 * A failed write as a StoreWriteError that says where and why (SQLite's own
 * "database or disk is full" names neither the file nor what to do); errors
 * that are not the disk's (a typed refusal raised inside a batch) pass as they are.
 */
export function asWriteError(error: unknown, dataDir: string): unknown {
  if (error instanceof StoreWriteError) return error;
  const e = error as { name?: string; code?: unknown; message?: string };
  const sqlite = e?.name === "SqliteError";
  const disk = typeof e?.code === "string" && DISK_ERRNOS.has(e.code);
  if (!sqlite && !disk) return error;
  return new StoreWriteError(
    `cannot write to the store in ${dataDir}: ${e.message} (${String(e.code)}). ` +
      `Free space there (or make it writable); what is stored stays, and a dispatch that failed for this can be redispatched with its completed results reused (valence redispatch ID --reuse)`,
    dataDir,
    { cause: error },
  );
}
