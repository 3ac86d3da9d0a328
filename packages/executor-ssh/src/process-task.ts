/**
 * `isolation: "process"`: each task a `node` process of its own on the host,
 * on a channel of its own (task-script.ts). Its command receives `task.json`
 * on stdin, runs node in the foreground, and sends back `result.json` when
 * node exits, so the task's end is known at once and nothing is polled.
 * Costs a node start (tens of ms) and a bundle import per task.
 */
import { constants as osConstants } from "node:os";
import { shellQuote, type RemoteResult, type RemoteStatus, type TaskPackage } from "valence/executor";
import { runCommand, type ExecResult, type SshConnection } from "./ssh-connection.js";
import { pidFromStdout, resultFromStdout, TASK_FILE_WRITE_FAILED, taskScript } from "./task-script.js";

/** A task submitted in its own process. Lives only in this process. */
export interface ProcessJob {
  readonly mode: "process";
  /** Cancels a task still waiting for a free channel. */
  readonly controller: AbortController;
  /** The command was sent: from now on the task may be running on the host. */
  started: boolean;
  /** The process group id on the host, once the task printed it. */
  pid: number | undefined;
  /** Cancel came: kill the task as soon as its pid is known. */
  cancelled: boolean;
  /** Resolves when the task's channel closed (never rejects). */
  ended: Promise<void>;
  result?: ExecResult;
  error?: Error;
}

export interface ProcessPlace {
  readonly workdir: string;
  readonly nodePath: string;
  readonly hostname: string;
}

/** How long cancel waits for the killed task's channel to close. */
const CANCEL_WAIT_MS = 5000;

export function submitProcessTask(connection: SshConnection, place: ProcessPlace, pkg: TaskPackage): ProcessJob {
  const controller = new AbortController();
  let stdoutHead = "";
  const job: ProcessJob = { mode: "process", controller, started: false, pid: undefined, cancelled: false, ended: Promise.resolve() };
  const command = taskScript({ workdir: place.workdir, taskDir: pkg.taskDir, nodePath: place.nodePath, runner: pkg.runner.relPath });
  const run = connection[runCommand](command, {
    lane: "long",
    stdin: pkg.taskJson,
    signal: controller.signal,
    onStart: () => (job.started = true),
    onStdout: (chunk) => {
      if (job.pid !== undefined || stdoutHead.length > 64) return;
      stdoutHead += chunk.toString("latin1");
      job.pid = pidFromStdout(stdoutHead);
      if (job.pid === undefined) return;
      // Cancelled while the remote login shell was still starting: kill it now that we can.
      if (job.cancelled) void killProcessTask(connection, job);
    },
  });
  job.ended = run.then(
    (result) => {
      job.result = result;
    },
    (error: unknown) => {
      job.error = error instanceof Error ? error : new Error(String(error));
    },
  );
  return job;
}

export function processTaskStatus(job: ProcessJob, place: ProcessPlace): RemoteStatus {
  if (job.error) {
    if (job.controller.signal.aborted) return { state: "failed", reason: "cancelled" };
    return { state: "failed", reason: `${job.error.message}; the task may still be running on ${place.hostname}` };
  }
  const r = job.result;
  if (!r) return { state: job.started ? "running" : "pending" };
  if (r.signal) return { state: "failed", reason: `killed by ${r.signal}` };
  if (r.code === TASK_FILE_WRITE_FAILED) {
    return { state: "failed", reason: `could not write the task's files under ${place.workdir} on ${place.hostname} (is the disk full?)` };
  }
  if (r.code === 127) return { state: "failed", reason: `exit code 127: the remote shell could not run "${place.nodePath}"` };
  const signal = r.code !== null && r.code > 128 ? signalName(r.code - 128) : undefined;
  if (signal) return { state: "failed", reason: `killed by ${signal} (exit code ${r.code}): out of memory, or killed on the host?` };
  return { state: "done" };
}

export function processTaskResult(job: ProcessJob): RemoteResult {
  const r = job.result;
  if (!r) return { resultJson: undefined, exitCode: null };
  return { resultJson: resultFromStdout(r.stdout), stderrTail: r.stderr, exitCode: r.code };
}

/**
 * Kills the task's process group on the host and waits (a while) for its
 * channel to close. A task still waiting for a channel is simply never
 * started; one whose pid is not known yet (the remote login shell is still
 * reading its rc files) is killed the moment the pid arrives.
 */
export async function cancelProcessTask(connection: SshConnection, job: ProcessJob): Promise<void> {
  job.cancelled = true;
  if (!job.started) {
    job.controller.abort();
    return;
  }
  if (job.pid !== undefined) await killProcessTask(connection, job);
  await withTimeout(job.ended, CANCEL_WAIT_MS);
}

/** The task's command removes its directory when it ends; a killed or lost task's directory is removed here. */
export async function cleanUpProcessTask(connection: SshConnection, place: ProcessPlace, job: ProcessJob, pkg: TaskPackage): Promise<void> {
  if (!job.started) return;
  if (job.result && job.result.code !== null) return;
  await connection.remove(`${place.workdir}/${pkg.taskDir}`);
}

async function killProcessTask(connection: SshConnection, job: ProcessJob): Promise<void> {
  if (job.result || job.error || job.pid === undefined) return;
  // The group: the shell, node, and whatever node started.
  await killRemoteGroup(connection, job.pid);
}

/**
 * Kills process group `pgid` on the host, and whatever it started. `kill -9 -PGID` is the form
 * dash, bash and busybox all take (dash rejects `kill -KILL -- -PGID`); the bare pid if the group
 * is somehow not ours. Never rejects: the process may be gone, the connection too.
 */
export async function killRemoteGroup(connection: SshConnection, pgid: number): Promise<void> {
  const kill = `kill -9 -${pgid} 2>/dev/null || kill -9 ${pgid} 2>/dev/null; true`;
  await connection.exec(`sh -c ${shellQuote(kill)}`).catch(() => undefined);
}

function signalName(signal: number): string | undefined {
  const entry = Object.entries(osConstants.signals).find(([, n]) => n === signal);
  return entry?.[0];
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}
