/**
 * A process named by its pid *and* its start time, so that a pid reused by
 * another process is not mistaken for the one recorded. Only for what a
 * lock cannot say (which process to signal); liveness comes from locks.
 */
import { readFileSync } from "node:fs";

export interface ProcessIdentity {
  readonly pid: number;
  /** `/proc/PID/stat` field 22 (start time in clock ticks since boot); undefined where there is no /proc. */
  readonly startTicks: string | undefined;
}

interface ProcStat {
  readonly state: string;
  readonly startTicks: string;
}

function procStat(pid: number): ProcStat | undefined | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ESRCH") return undefined; // no such process
    return null; // no /proc here (or unreadable): cannot tell
  }
  // "PID (COMM) STATE PPID …": COMM may hold spaces and parentheses; the fields after the last ")" do not.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // STATE is field 3, start time field 22.
  return { state: fields[0] ?? "", startTicks: fields[19] ?? "" };
}

/** This process, or `pid`, as it is now. */
export function identify(pid: number = process.pid): ProcessIdentity {
  const stat = procStat(pid);
  return { pid, startTicks: stat ? stat.startTicks : undefined };
}

/**
 * Whether the process `who` names still runs: not gone, not a zombie (a
 * killed process lingers as one until reaped, and `kill(pid, 0)` succeeds on
 * it), and not a newer process that got the same pid.
 */
export function isRunning(who: ProcessIdentity): boolean {
  const stat = procStat(who.pid);
  if (stat === undefined) return false;
  if (stat === null) return signalable(who.pid); // no /proc: the best that can be said
  if (stat.state === "Z" || stat.state === "X") return false;
  return who.startTicks === undefined || stat.startTicks === who.startTicks;
}

function signalable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
