/**
 * `valence-task --pilot QUEUE_DIR [--name NAME] [--idle SECONDS] [--slots N]`:
 * a pilot. It runs inside one batch allocation (a Slurm job) and pulls tasks
 * from a queue directory on the shared file system, so the tasks after the
 * first cost a file each way instead of a job each. It runs them in
 * persistent `--serve` runners (this same file, `process.argv[1]`), `--slots`
 * at once. Several pilots may serve one queue: each claims a task by
 * renaming it into its own directory, so exactly one runs it.
 *
 *   QUEUE/inbox/<id>.json        the dispatcher's tasks, written atomically (temp file + rename):
 *                                {"id","bundle","taskFile"} (task.json's path) or {"id","bundle","task"} (its content);
 *                                relative paths start at the pilot's working directory.
 *   QUEUE/pilots/NAME/claimed/   the tasks this pilot took (renamed from the inbox), until answered.
 *   QUEUE/pilots/NAME/alive      its mtime is refreshed every second while the pilot lives.
 *   QUEUE/pilots/NAME/stop       asks this pilot to finish what it has and exit; QUEUE/stop asks every pilot.
 *   QUEUE/outbox/<id>.json       the answer, written atomically: the task's result.json text, or
 *                                {"runnerEnded":{"reason","exitCode","signal","stderrTail","pilot"}} when the task's
 *                                runner went down under it (process.exit, a crash, a cancel).
 *   QUEUE/cancel/<id>            stops that task if this pilot has it: its runner's process group is killed.
 *
 * The pilot exits (ending its job, releasing the allocation) after `--idle`
 * seconds without a task, or when asked to stop; it claims nothing more
 * once it has decided to, so an unclaimed task is never lost with it.
 *
 * The inbox is polled (readdir every 50 ms): fs.watch does not see other
 * hosts' writes on NFS.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { appendFile, readdir, readFile, rename, unlink, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { RunnerPool, type LaunchedRunner, type PooledTask } from "../executor/remote/runner-pool.js";
import { launchChildRunner } from "../executor/remote/child-runner.js";
import type { RunnerOutcome } from "../executor/remote/runner-session.js";
import type { LiveSink } from "../executor/capture.js";
import { OUTPUT_FILE, outputFileLine } from "../executor/wire/output-file.js";

export interface PilotArgs {
  /** The queue directory. */
  readonly dir: string;
  /** This pilot's name in `QUEUE/pilots/` (a Slurm job id). */
  readonly name: string;
  /** Seconds without a task before the pilot exits. */
  readonly idleSeconds: number;
  /** Tasks run at once, each in its own runner process. */
  readonly slots: number;
}

/** What a pilot writes in `outbox/<id>.json` for a task whose runner ended under it. */
export interface RunnerEndedAnswer {
  readonly runnerEnded: {
    readonly reason: string;
    readonly exitCode: number | null;
    readonly signal?: string;
    readonly stderrTail: string;
    /** The pilot that ran it (its `--name`: the Slurm job id). */
    readonly pilot?: string;
  };
}

/** The files and directories of a queue directory. */
export const PILOT_FILES = {
  inbox: "inbox",
  outbox: "outbox",
  cancel: "cancel",
  tmp: "tmp",
  pilots: "pilots",
  claimed: "claimed",
  alive: "alive",
  stop: "stop",
} as const;

export const DEFAULT_PILOT_IDLE_SECONDS = 60;
/** How often the inbox, cancel and stop files are looked at. */
export const PILOT_POLL_MS = 50;
const ALIVE_EVERY_MS = 1000;

/** Parses what follows `--pilot` on the command line; throws a usage message. */
export function parsePilotArgs(argv: readonly string[]): PilotArgs {
  const [dir, ...rest] = argv;
  if (!dir || dir.startsWith("--")) throw new Error("--pilot needs a queue directory: valence-task --pilot QUEUE_DIR [--name NAME] [--idle SECONDS] [--slots N]");
  let idleSeconds = DEFAULT_PILOT_IDLE_SECONDS;
  let slots = 1;
  let name = `${hostname()}-${process.pid}`;
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, value] = [rest[i], rest[i + 1]];
    const n = Number(value);
    if (flag === "--idle" && value !== undefined && Number.isFinite(n) && n > 0) idleSeconds = n;
    else if (flag === "--slots" && value !== undefined && Number.isInteger(n) && n > 0) slots = n;
    else if (flag === "--name" && value !== undefined && /^[\w.-]+$/.test(value)) name = value;
    else {
      throw new Error(
        `--pilot: bad argument ${JSON.stringify(flag)} ${JSON.stringify(value)} (--idle takes seconds above 0, --slots a whole number above 0, --name letters, digits, ".", "-", "_")`,
      );
    }
  }
  return { dir: resolve(dir), name, idleSeconds, slots };
}

interface Running {
  task?: PooledTask;
  cancelled: boolean;
}

/** Runs the pilot until it is idle or stopped, then exits the process. */
export function pilot(args: PilotArgs, runnerFile = process.argv[1] as string): void {
  const queue = (...parts: string[]) => join(args.dir, ...parts);
  const own = (...parts: string[]) => join(args.dir, PILOT_FILES.pilots, args.name, ...parts);
  for (const sub of [PILOT_FILES.inbox, PILOT_FILES.outbox, PILOT_FILES.cancel, PILOT_FILES.tmp]) mkdirSync(queue(sub), { recursive: true });
  mkdirSync(own(PILOT_FILES.claimed), { recursive: true });
  writeFileSync(own(PILOT_FILES.alive), `${JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() })}\n`);
  log(`pilot ${args.name} (pid ${process.pid} on ${hostname()}): ${args.slots} slot(s), exits after ${args.idleSeconds} s idle; queue ${args.dir}`);

  const launched = new Set<LaunchedRunner>();
  const pool = new RunnerPool({
    maxRunners: args.slots,
    tasksPerRunner: 1,
    idleMs: args.idleSeconds * 1000,
    launch: () => {
      // The runner's own stderr (module top-level output, crashes) goes to the pilot's, the job's log.
      const runner = launchChildRunner({ runnerFile, onStderr: (chunk) => process.stderr.write(chunk) });
      launched.add(runner);
      void runner.session.done.then(() => launched.delete(runner));
      return runner;
    },
  });
  /** Tasks this pilot claimed and has not answered yet, by id. */
  const running = new Map<string, Running>();
  let lastBusy = Date.now();
  let closing = false;
  let ticking = false;

  const alive = setInterval(() => {
    const now = new Date();
    utimes(own(PILOT_FILES.alive), now, now).catch(() => {});
  }, ALIVE_EVERY_MS);
  const ticker = setInterval(() => {
    if (ticking) return;
    ticking = true;
    tick()
      .catch((error: unknown) => log(`pilot: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => (ticking = false));
  }, PILOT_POLL_MS);

  // scancel sends SIGTERM first: take the runners (their own process groups) down with us.
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      log(`pilot: ${signal}, killing ${launched.size} runner(s)`);
      for (const runner of launched) void runner.kill();
      process.exit(128 + (signal === "SIGTERM" ? 15 : 2));
    });
  }

  async function tick(): Promise<void> {
    if (!closing && (existsSync(own(PILOT_FILES.stop)) || existsSync(queue(PILOT_FILES.stop)))) closing = note("asked to stop");
    if (!closing && running.size === 0 && Date.now() - lastBusy >= args.idleSeconds * 1000) closing = note(`idle for ${args.idleSeconds} s`);
    const cancels = new Set(await listDir(queue(PILOT_FILES.cancel)));
    for (const [id, task] of running) {
      if (cancels.has(id) && !task.cancelled && task.task) {
        task.cancelled = true;
        void task.task.cancel();
      }
    }
    if (!closing && running.size < args.slots) {
      const entries = (await listDir(queue(PILOT_FILES.inbox))).filter((n) => n.endsWith(".json")).sort();
      for (const name of entries) {
        if (running.size >= args.slots) break;
        const id = name.slice(0, -".json".length);
        const claimed = own(PILOT_FILES.claimed, name);
        // The rename is the claim: of several pilots, one wins; the others get ENOENT.
        const won = await rename(queue(PILOT_FILES.inbox, name), claimed).then(
          () => true,
          () => false,
        );
        if (!won) continue;
        const entry: Running = { cancelled: false };
        running.set(id, entry);
        lastBusy = Date.now();
        void take(id, claimed, entry, cancels.has(id));
      }
    }
    if (running.size > 0) lastBusy = Date.now();
    if (closing && running.size === 0) {
      clearInterval(ticker);
      clearInterval(alive);
      pool.close();
      log("pilot: done, exiting");
      process.exit(0);
    }
  }

  async function take(id: string, file: string, entry: Running, cancelledBefore: boolean): Promise<void> {
    let answer: string;
    try {
      const parsed = JSON.parse(await readFile(file, "utf8")) as { bundle?: unknown; task?: unknown; taskFile?: unknown };
      if (typeof parsed.bundle !== "string") throw new Error(`"bundle" must be a string`);
      const taskJson =
        typeof parsed.taskFile === "string"
          ? await readFile(resolve(parsed.taskFile), "utf8")
          : typeof parsed.task === "object" && parsed.task !== null
            ? JSON.stringify(parsed.task)
            : undefined;
      if (taskJson === undefined) throw new Error(`an inbox entry needs "taskFile" (a path) or "task" (an object)`);
      if (cancelledBefore) {
        answer = runnerEnded({ reason: "cancelled before it started", exitCode: null, stderrTail: "", pilot: args.name });
      } else {
        // The task's output while it runs goes beside its task.json, where the dispatcher follows it (output-file.ts).
        const live = typeof parsed.taskFile === "string" ? appendTo(join(dirname(resolve(parsed.taskFile)), OUTPUT_FILE)) : undefined;
        entry.task = pool.submit(parsed.bundle, taskJson, parsed.bundle, live);
        answer = answerOf(await entry.task.outcome, args.name);
      }
    } catch (error) {
      answer = runnerEnded({ reason: `the pilot could not run inbox entry ${id}: ${(error as Error).message}`, exitCode: null, stderrTail: "", pilot: args.name });
    }
    try {
      const tmp = queue(PILOT_FILES.tmp, `${id}.${randomBytes(4).toString("hex")}.out`);
      await writeFile(tmp, answer);
      await rename(tmp, queue(PILOT_FILES.outbox, `${id}.json`));
    } catch (error) {
      log(`pilot: could not answer task ${id}: ${(error as Error).message}`);
    }
    await Promise.all([file, queue(PILOT_FILES.cancel, id)].map((p) => unlink(p).catch(() => {})));
    running.delete(id);
    lastBusy = Date.now();
  }
}

function note(why: string): true {
  log(`pilot: closing (${why})`);
  return true;
}

function answerOf(outcome: RunnerOutcome, pilot: string): string {
  // The pilot's name rides along (a field added to the result file's JSON, not a parse of it), so the
  // dispatcher knows which job ran a task it never saw claimed: the timeline's row.
  if (outcome.kind === "result") return `${outcome.resultJson.replace(/\}\s*$/, "")},"pilot":${JSON.stringify(pilot)}}`;
  return runnerEnded({
    reason: outcome.reason,
    exitCode: outcome.exit.code,
    ...(outcome.exit.signal ? { signal: outcome.exit.signal } : {}),
    stderrTail: outcome.stderrTail,
    pilot,
  });
}

function runnerEnded(ended: RunnerEndedAnswer["runnerEnded"]): string {
  return JSON.stringify({ runnerEnded: ended } satisfies RunnerEndedAnswer);
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

/** A live sink that appends each chunk to `path`, in order (one append at a time); a failed append is dropped. */
function appendTo(path: string): LiveSink {
  let last: Promise<void> = Promise.resolve();
  return (stream, text) => {
    const line = outputFileLine(stream, text);
    last = last.then(() => appendFile(path, line)).catch(() => {});
  };
}
