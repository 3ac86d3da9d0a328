/**
 * Who runs a dispatch: every process that runs dispatches (an embedded
 * script, a server's dispatch runner, `valence resume`) holds one owner lock
 * in the data dir for as long as it lives, and each dispatch row names the
 * lock of the process running it. The dispatch's owner is alive exactly
 * while that lock is held, which the kernel ends the instant the owner dies.
 *
 *   DATA_DIR/locks/owner-<pid>-<start ticks>.lock
 *
 * The token carries the owner's pid and start time only so that a stale owner
 * can be shown and, if it hangs on, signalled without hitting a reused pid.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { LockError } from "../../errors.js";
import { FileLock, isLockHeld } from "./file-lock.js";
import { identify, isRunning, type ProcessIdentity } from "./process-identity.js";

/** Names an owner lock: `<pid>-<start ticks>` (or `<pid>-r<random>` where there is no /proc). */
export type OwnerToken = string & { readonly __brand: "OwnerToken" };

export const locksDir = (dataDir: string) => join(dataDir, "locks");
const ownerLockFile = (dataDir: string, token: OwnerToken) => join(locksDir(dataDir), `owner-${token}.lock`);

const held = new Map<string, { token: OwnerToken; lock: FileLock }>();

/**
 * This process's owner token for `dataDir`, taking its lock on first use.
 * Take it before writing the token into a dispatch row: a row must never name
 * a lock that is not held yet (it would look like a dead owner).
 */
export function ownerToken(dataDir: string): OwnerToken {
  const mine = held.get(dataDir);
  if (mine?.lock.held) return mine.token;
  const me = identify();
  const token = `${me.pid}-${me.startTicks ?? `r${randomBytes(6).toString("hex")}`}` as OwnerToken;
  const lock = FileLock.tryAcquire(ownerLockFile(dataDir, token));
  // Only this process makes this name, so another holder means the name is not unique after all.
  if (!lock) throw new LockError(`the owner lock ${ownerLockFile(dataDir, token)} is held by another process`);
  held.set(dataDir, { token, lock });
  if (held.size === 1) process.once("exit", releaseOwnerLocks);
  return token;
}

/** Lets go of this process's owner locks (at exit; tests). */
export function releaseOwnerLocks(): void {
  for (const [dataDir, { token, lock }] of held) {
    lock.release();
    rmSync(ownerLockFile(dataDir, token), { force: true });
  }
  held.clear();
}

/** Whether the process that holds `token`'s lock still runs. A lock found free is removed (its owner is gone for good). */
export function ownerAlive(dataDir: string, token: OwnerToken): boolean {
  const file = ownerLockFile(dataDir, token);
  if (isLockHeld(file)) return true;
  rmSync(file, { force: true });
  return false;
}

/** The process a token names (to show, or to stop a stale one that holds on). */
export function ownerProcess(token: OwnerToken): ProcessIdentity {
  const [pid, ticks] = token.split("-");
  return { pid: Number(pid), startTicks: ticks === undefined || ticks.startsWith("r") ? undefined : ticks };
}

export function isOwnerToken(value: unknown): value is OwnerToken {
  return typeof value === "string" && /^\d+-(\d+|r[0-9a-f]+)$/.test(value);
}

/**
 * Whether the process recorded as running a dispatch is known to be gone.
 * Owners on another machine cannot be told from here (false); rows from
 * before owner locks fall back to the pid, with zombies counted as dead.
 */
export function dispatchOwnerGone(
  dataDir: string,
  d: { readonly ownerPid: number | null; readonly ownerHost: string | null; readonly ownerLock: string | null },
  thisHost: string,
): boolean {
  if (d.ownerHost !== thisHost) return false;
  if (isOwnerToken(d.ownerLock)) return !ownerAlive(dataDir, d.ownerLock);
  return d.ownerPid !== null && !isRunning({ pid: d.ownerPid, startTicks: undefined });
}
