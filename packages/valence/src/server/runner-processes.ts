/** Signals and leftovers of dispatch runner processes: their process groups, stale runners, their last words. */
import { readFileSync, statSync } from "node:fs";
import { isRunning, type ProcessIdentity } from "../engine/locks/process-identity.js";

export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

/**
 * Stops `who` if it is a dispatch runner (of a previous server; the pid and
 * start time must match, so a reused pid is never hit) and waits, up to 5 s,
 * until `holds()` says it has let go.
 */
export async function stopStaleRunner(who: ProcessIdentity, holds: () => boolean): Promise<void> {
  if (!isRunning(who)) return;
  let cmdline = "";
  try {
    cmdline = readFileSync(`/proc/${who.pid}/cmdline`, "utf8");
  } catch {
    return;
  }
  if (!cmdline.includes("runner-main")) return;
  // Its group: the local workers it started go with it.
  killGroup(who.pid, "SIGKILL");
  for (let i = 0; i < 250 && holds(); i++) await new Promise((r) => setTimeout(r, 20));
}

/** The last few lines a runner wrote (its own crash report, a task's last words). */
export function tail(file: string, bytes = 2000): string {
  try {
    const size = statSync(file).size;
    const text = readFileSync(file, "utf8");
    return text.slice(Math.max(0, size - bytes)).trim();
  } catch {
    return "";
  }
}
