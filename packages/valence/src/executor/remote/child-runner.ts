/**
 * A persistent task runner (`valence-task --serve`) as a child process of
 * this one, in its own process group, so killing it (`kill -9 -PID`) also
 * ends whatever its task started. Used where the runners run on this
 * machine: a Slurm pilot inside its allocation, and the tests' local place.
 */
import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import type { LaunchedRunner } from "./runner-pool.js";
import { RunnerSession } from "./runner-session.js";

export interface ChildRunnerOptions {
  /** The runner file (`valence-task-<hash>.mjs`). */
  readonly runnerFile: string;
  /** Its working directory; default this process's. */
  readonly cwd?: string;
  /** Also given what the runner writes on stderr (besides the session's tail). */
  readonly onStderr?: (chunk: Buffer) => void;
  /** An idle runner does not keep this process alive (`hold`); default false: it does. */
  readonly unrefWhenIdle?: boolean;
}

export function launchChildRunner(opts: ChildRunnerOptions): LaunchedRunner {
  const child = spawn(process.execPath, [opts.runnerFile, "--serve"], {
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const stdin = child.stdin as Writable;
  const session = new RunnerSession({ write: (text) => stdin.write(text), end: () => stdin.end() });
  stdin.on("error", () => {});
  child.stdout?.on("data", (chunk: Buffer) => session.stdout(chunk));
  child.stderr?.on("data", (chunk: Buffer) => {
    session.stderr(chunk);
    opts.onStderr?.(chunk);
  });
  child.on("error", (error) => session.exited({ code: null, error }));
  child.on("close", (code, signal) => session.exited({ code, ...(signal ? { signal } : {}) }));
  const kill = async (): Promise<void> => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      /* gone already */
    }
  };
  if (!opts.unrefWhenIdle) return { session, kill };
  const streams = [child.stdout, child.stderr, child.stdin] as Array<(Readable | Writable) & { ref?(): void; unref?(): void }>;
  const hold = (busy: boolean): void => {
    if (busy) child.ref();
    else child.unref();
    for (const s of streams) (busy ? s.ref : s.unref)?.call(s);
  };
  hold(false);
  return { session, hold, kill };
}
