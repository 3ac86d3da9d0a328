/**
 * The files a server keeps in its data dir: `server.json` (where it listens,
 * its pid, since when: how clients and `valence status` find it), the bearer
 * token (mode 0600) and the log.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

export interface ServerInfo {
  readonly pid: number;
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
const lockFile = (dataDir: string) => join(dataDir, "server.lock");

/**
 * Claims the data dir for this server process, atomically (O_EXCL): of two
 * servers started at once on one data dir, exactly one gets it. A lock left
 * by a process that no longer runs is taken over. Returns the pid that holds
 * it when that is another live process.
 */
export function lockDataDir(dataDir: string): number | undefined {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lockFile(dataDir), String(process.pid), { flag: "wx" });
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = Number(readFileSync(lockFile(dataDir), "utf8").trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) return holder;
    rmSync(lockFile(dataDir), { force: true }); // stale: its server is gone
  }
  return undefined;
}

export function unlockDataDir(dataDir: string): void {
  try {
    if (Number(readFileSync(lockFile(dataDir), "utf8").trim()) === process.pid) rmSync(lockFile(dataDir), { force: true });
  } catch {
    /* already gone */
  }
}

export function writeServerInfo(dataDir: string, info: ServerInfo): void {
  const tmp = `${serverFile(dataDir)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(info, null, 2));
  renameSync(tmp, serverFile(dataDir));
}

/** The server recorded in `dataDir`, if its process still runs on this machine. */
export function readServerInfo(dataDir: string): ServerInfo | undefined {
  let info: ServerInfo;
  try {
    info = JSON.parse(readFileSync(serverFile(dataDir), "utf8")) as ServerInfo;
  } catch {
    return undefined;
  }
  if (info.machine === hostname() && !processAlive(info.pid)) return undefined;
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

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
