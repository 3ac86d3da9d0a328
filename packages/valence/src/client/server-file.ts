/**
 * The files a server keeps in its data dir: `server.json` (where it listens,
 * its pid, since when: how clients and `valence status` find it), the bearer
 * token (mode 0600), the log, and `locks/server.lock`, which the running
 * server holds: a server.json counts only while that lock is held, and the
 * kernel releases it the instant the server dies (kill -9 included), so a new
 * server can start at once and `valence status` never trusts a zombie's pid.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { FileLock, isLockHeld } from "../engine/locks/file-lock.js";
import { locksDir } from "../engine/locks/owner-lock.js";
import { isRunning } from "../engine/locks/process-identity.js";

export interface ServerInfo {
  readonly pid: number;
  /** The server process's start time (`/proc/PID/stat` field 22), so that a reused pid is not taken for it. */
  readonly startTicks?: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly startedAt: number;
  readonly machine: string;
  readonly version: string;
}

export const serverFile = (dataDir: string) => join(dataDir, "server.json");
export const serverLogFile = (dataDir: string) => join(dataDir, "server.log");
export const tokenFile = (dataDir: string) => join(dataDir, "server.token");
// Never removed: a second server must lock the same file (inode), not a new one made beside it.
const lockFile = (dataDir: string) => join(locksDir(dataDir), "server.lock");
// Who holds it, for messages only (the lock is the truth): written once the lock is held.
const holderFile = (dataDir: string) => join(locksDir(dataDir), "server.holder");
const dataDirLocks = new Map<string, FileLock>();

/**
 * Claims the data dir for this server process: of two servers started at
 * once on one data dir, exactly one gets it, and a server that was killed
 * has let go of it already. False when another server holds it.
 */
export function lockDataDir(dataDir: string): boolean {
  if (dataDirLocks.get(dataDir)?.held) return true;
  const lock = FileLock.tryAcquire(lockFile(dataDir));
  if (!lock) return false;
  dataDirLocks.set(dataDir, lock);
  writeFileSync(holderFile(dataDir), String(process.pid));
  return true;
}

/** The pid of the server that holds the data dir, if one does (it may still be starting). */
export function serverLockHolder(dataDir: string): number | undefined {
  if (!serverLockHeld(dataDir)) return undefined;
  try {
    const pid = Number(readFileSync(holderFile(dataDir), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // between taking the lock and writing this file
  }
}

export function unlockDataDir(dataDir: string): void {
  dataDirLocks.get(dataDir)?.release();
  dataDirLocks.delete(dataDir);
}

/** Whether a server (this process or another) holds the data dir. */
export function serverLockHeld(dataDir: string): boolean {
  return isLockHeld(lockFile(dataDir));
}

export function writeServerInfo(dataDir: string, info: ServerInfo): void {
  const tmp = `${serverFile(dataDir)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(info, null, 2));
  renameSync(tmp, serverFile(dataDir));
}

/**
 * The server recorded in `dataDir`, if it runs: on this machine, while the
 * data dir's server lock is held and the recorded process (pid and start
 * time) is the one running; a server.json left by a killed server is ignored.
 */
export function readServerInfo(dataDir: string): ServerInfo | undefined {
  let info: ServerInfo;
  try {
    info = JSON.parse(readFileSync(serverFile(dataDir), "utf8")) as ServerInfo;
  } catch {
    return undefined;
  }
  if (info.machine === hostname() && !(serverLockHeld(dataDir) && isRunning({ pid: info.pid, startTicks: info.startTicks }))) return undefined;
  return info;
}

export function removeServerInfo(dataDir: string, pid: number): void {
  try {
    const info = JSON.parse(readFileSync(serverFile(dataDir), "utf8")) as ServerInfo;
    if (info.pid === pid) rmSync(serverFile(dataDir), { force: true });
  } catch {
    /* already gone */
  }
}

/** The data dir's token, made (mode 0600) on first use. */
export function ensureToken(dataDir: string): string {
  const file = tokenFile(dataDir);
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const token = randomBytes(32).toString("base64url");
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}

export function readToken(dataDir: string): string | undefined {
  try {
    return readFileSync(tokenFile(dataDir), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
