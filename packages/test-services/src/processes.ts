import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { descendants } from "./proc-table.js";

/** How a service process ended. `error` is set when it could not be started at all. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** A daemon started by this package, with its output going to `logFile`. */
export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves when the process has exited and been reaped. Never rejects. */
  readonly exited: Promise<ProcessExit>;
  /** The exit, once it has happened; undefined while the process runs. */
  exit(): ProcessExit | undefined;
  /**
   * SIGTERM, SIGKILL after `graceMs`, and wait for the exit; then SIGKILL whatever it had
   * forked that is still running (sshd sessions). Safe to call twice.
   */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: readonly string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Leave the process running after this Node process exits (for `services:up`): it gets
   * its own session, is unref'd and is not killed by the exit hook.
   */
  detached?: boolean;
}

/** Processes to kill if this Node process ends before the tests stopped them. */
const running = new Set<ChildProcess>();
let hooksInstalled = false;

function killRunning(): void {
  for (const child of running) {
    try {
      child.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
  running.clear();
}

/**
 * A test that throws before its `after` hook, or a runner that is interrupted, must not
 * leave daemons listening on ports the next run wants: on 'exit' (and on the usual
 * termination signals) every still-running non-detached child gets SIGKILL. 'exit' handlers
 * must be synchronous, so there is no grace period and no waiting here.
 */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killRunning);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killRunning();
      // Keep the default behaviour (die by this signal) unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/**
 * Starts a daemon with stdout and stderr appended to `logFile`. Failing to start (a missing
 * binary) is reported through `exited`, like any other early exit, so callers have one
 * place to look.
 */
export function spawnService(options: SpawnOptions): ServiceProcess {
  const detached = options.detached ?? false;
  const fd = openSync(options.logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(options.command, options.args, {
      stdio: ["ignore", fd, fd],
      env: options.env ?? process.env,
      cwd: options.cwd,
      detached,
    });
  } finally {
    // The child has its own copy of the descriptor.
    closeSync(fd);
  }

  let exitInfo: ProcessExit | undefined;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once("error", (error) => {
      // 'error' without a pid means spawn failed and no 'exit' will follow.
      if (child.pid === undefined) {
        exitInfo = { code: null, signal: null, error };
        running.delete(child);
        resolve(exitInfo);
      }
    });
    child.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      running.delete(child);
      resolve(exitInfo);
    });
  });

  if (detached) {
    child.unref();
  } else {
    installExitHooks();
    running.add(child);
  }

  const stop = async (graceMs = 5000): Promise<void> => {
    if (exitInfo !== undefined || child.pid === undefined) {
      await exited;
      return;
    }
    // Taken before the parent dies: afterwards its children are reparented and untraceable.
    const forked = descendants(child.pid);
    child.kill("SIGTERM");
    // Cancelled once the child exits: a pending 5 s timer would hold the test process open.
    const grace = new AbortController();
    const timer = sleep(graceMs, "timeout" as const, { signal: grace.signal }).catch(() => "exited" as const);
    const first = await Promise.race([exited, timer]);
    grace.abort();
    if (first === "timeout") child.kill("SIGKILL");
    await exited;
    await killLeftovers(forked);
  };

  return {
    name: options.name,
    pid: child.pid ?? -1,
    logFile: options.logFile,
    exited,
    exit: () => exitInfo,
    stop,
  };
}

/** Describes an exit for an error message: "exited with code 1", "was killed by SIGKILL". */
export function describeExit(exit: ProcessExit): string {
  if (exit.error) return `could not be started (${exit.error.message})`;
  if (exit.signal) return `was killed by ${exit.signal}`;
  return `exited with code ${exit.code}`;
}

/**
 * Whether a PID we do not own (one recorded by `services:up`) is still a live process. A
 * zombie counts as gone: PID 1 here does not reap orphans, so a killed daemon can linger
 * as a zombie forever.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The state follows the parenthesised command name, which may itself contain spaces.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z";
  } catch {
    return true;
  }
}

/**
 * Processes a stopped daemon had forked (an sshd's pre-auth and session children) would
 * otherwise outlive it, holding sockets and running test commands. SIGKILL and wait.
 */
async function killLeftovers(pids: readonly number[]): Promise<void> {
  const left = pids.filter(isAlive);
  for (const pid of left) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + 5000;
  while (left.some(isAlive) && Date.now() < deadline) await sleep(20);
}

/**
 * SIGTERM a PID we do not own (one recorded by `services:up`), SIGKILL after `graceMs`,
 * poll until it is gone, then kill what it had forked.
 */
export async function stopPid(pid: number, graceMs = 5000): Promise<void> {
  if (!isAlive(pid)) return;
  const forked = descendants(pid);
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      return;
    }
    while (isAlive(pid)) await sleep(50);
  }
  await killLeftovers(forked);
}

/** Stops processes in the given order (dependants first), continuing past failures. */
export async function stopAll(processes: readonly ServiceProcess[]): Promise<void> {
  for (const p of processes) await p.stop();
}
