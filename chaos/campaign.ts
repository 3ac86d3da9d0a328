/**
 * The crash-point campaign: runs the mixed workflow (workflow.ts) again and
 * again and `kill -9`s, at a random moment of each run, one of the processes
 * that own its state, then restarts at once and checks what survived.
 *
 *   server    the server (`valence start --foreground`), started again at once
 *   runner    the dispatch's runner process (the server starts another)
 *   worker    one of the runner's local worker processes (the pool starts another)
 *   embedded  an embedded `valence run`, finished by `valence resume` at once
 *
 * A kill may re-run only the tasks that were running at that moment: the
 * bound for each kill is the tasks that had started (logged their tag) less
 * those the store had as COMPLETED, read right after the kill.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { SqliteStore } from "../packages/valence/dist/engine/store/sqlite-store.js";
import { readResult } from "../packages/valence/dist/engine/read-result.js";
import { seededRandom } from "../packages/valence/src/test-support/seeded-random.js";
import { expected } from "./workflow.js";

export const TARGETS = ["server", "runner", "worker", "embedded"] as const;
export type Target = (typeof TARGETS)[number];

export interface CampaignOptions {
  /** Kills per target. */
  readonly kills: number;
  readonly targets: readonly Target[];
  /** Width of the workflow's fan-out. */
  readonly fanOut: number;
  readonly seed: number;
  /** Scratch space: data dirs, logs, outputs (emptied first). */
  readonly workDir: string;
  readonly log?: (line: string) => void;
}

export interface TargetRow {
  readonly target: Target;
  kills: number;
  completed: number;
  /** Tasks that ran more than once, over all kills. */
  reruns: number;
  /** Tasks running at the moments of the kills: what the re-runs may add up to at most. */
  runningAtKills: number;
  /** Dispatches that did not complete with the right result, output file and tasks. */
  lost: number;
  /** Processes still working on the data dir after the final stop. */
  leftBehind: number;
  /** Runs in which the process to kill was not there (the dispatch had ended): run again, not counted. */
  missed: number;
  readonly problems: string[];
}

const repo = fileURLToPath(new URL("..", import.meta.url));
const bin = join(repo, "packages/valence/bin/valence.js");
const embeddedEntry = join(repo, "chaos/embedded-entry.ts");
const FINISH_TIMEOUT_MS = 120_000;

export async function runCampaign(opts: CampaignOptions): Promise<TargetRow[]> {
  rmSync(opts.workDir, { recursive: true, force: true });
  mkdirSync(opts.workDir, { recursive: true });
  const random = seededRandom(opts.seed);
  const rows: TargetRow[] = [];
  for (const target of opts.targets) {
    const row: TargetRow = { target, kills: 0, completed: 0, reruns: 0, runningAtKills: 0, lost: 0, leftBehind: 0, missed: 0, problems: [] };
    rows.push(row);
    const dir = join(opts.workDir, target);
    mkdirSync(dir, { recursive: true });
    const run = target === "embedded" ? runEmbedded : runThroughServer;
    await run(target, dir, opts, random, row);
    opts.log?.(`${target}: ${row.kills} kills, ${row.completed} completed, ${row.reruns} re-runs (bound ${row.runningAtKills}), ${row.lost} lost`);
  }
  return rows;
}

/** One dispatch's files: the runs log (a tag per task start) and the file its `save` task writes. */
function files(dir: string, i: number) {
  return { log: join(dir, `runs-${i}.log`), out: join(dir, `out-${i}.txt`) };
}

async function runThroughServer(target: Target, dir: string, opts: CampaignOptions, random: () => number, row: TargetRow): Promise<void> {
  const dataDir = join(dir, "data");
  const server = new ServerProcess(dataDir);
  await server.start();
  // The campaign's own process is the client: dispatches go to this server.
  process.env["VALENCE_SERVER"] = server.url;
  const { dispatch } = await import("valence");
  const { mixed } = await import("./workflow.js");
  const store = new SqliteStore(dataDir);
  try {
    // One run untouched: how long a dispatch takes, so kills land inside one.
    const calibration = files(dir, -1);
    const t0 = Date.now();
    const first = await dispatch(mixed)(opts.fanOut, calibration.log, calibration.out);
    await finished(store, first);
    const duration = Date.now() - t0;
    await check(store, first, opts.fanOut, calibration, row, 0);
    row.completed--; // the calibration run is not one of the campaign's
    // A kill that finds nothing to kill (the dispatch ended first) does not count: another run takes its place.
    for (let i = 0; row.kills < opts.kills && i < opts.kills * 3; i++) {
      const f = files(dir, i);
      const started = Date.now();
      const id = await dispatch(mixed)(opts.fanOut, f.log, f.out);
      if (target === "worker") {
        // Workers only exist while the local squares run, and how soon they start depends on the
        // machine, so the moment is one of progress (after the m-th square started), not of time.
        await tagsStarted(f.log, 1 + Math.floor(random() * opts.fanOut * 0.8));
      } else {
        const window = target === "runner" ? [0.02, 0.8] : [0.02, 0.95];
        const at = started + duration * (window[0]! + random() * (window[1]! - window[0]!));
        await sleep(Math.max(0, at - Date.now()));
      }
      const victim = target === "server" ? server.pid : target === "runner" ? await runnerOf(store, id) : await workerOf(store, id, random);
      const dying = victim === undefined ? [] : [victim, ...descendants(victim)];
      const completedBefore = await completedTasks(store, id);
      const killed = kill9(victim);
      // What had started by the time the killed process, and those it had started, were gone: a
      // dying process's workers finish the task in hand. Counted while the server starts again.
      const counted = whenGone(dying).then(() => startedTasks(f.log));
      if (target === "server") await server.start();
      const startedByKill = await counted;
      if (killed) {
        row.kills++;
        row.runningAtKills += Math.max(0, startedByKill - completedBefore);
      } else {
        row.missed++;
      }
      await finished(store, id);
      await check(store, id, opts.fanOut, f, row, i);
    }
  } finally {
    await store.close();
    await server.stop();
    delete process.env["VALENCE_SERVER"];
  }
  const left = await settled(dataDir);
  row.leftBehind += left.length;
  for (const p of left) row.problems.push(`left behind: pid ${p.pid} ${p.cmdline}`);
}

async function runEmbedded(_target: Target, dir: string, opts: CampaignOptions, random: () => number, row: TargetRow): Promise<void> {
  const dataDir = join(dir, "data");
  const env = { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_SERVER: "embedded" };
  const store = new SqliteStore(dataDir);
  const start = (f: { log: string; out: string }) => {
    const child = spawn(process.execPath, [bin, "run", embeddedEntry, "--", String(opts.fanOut), f.log, f.out], { env, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const id = new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
        const m = /(dsp_\w+)\n/.exec(out);
        if (m) resolve(m[1] as string);
      });
      child.once("exit", (code) => reject(new Error(`valence run exited (${code}) before it printed a dispatch id: ${err}`)));
    });
    return { child, id, stderr: () => err };
  };
  try {
    const calibration = files(dir, -1);
    const c = start(calibration);
    const first = await c.id;
    const t0 = Date.now();
    await exitOf(c.child);
    const duration = Date.now() - t0;
    await check(store, first, opts.fanOut, calibration, row, 0);
    row.completed--;
    for (let i = 0; i < opts.kills; i++) {
      const f = files(dir, i);
      const run = start(f);
      const id = await run.id;
      await sleep(duration * (0.02 + random() * 0.93));
      const dying = run.child.pid === undefined ? [] : [run.child.pid, ...descendants(run.child.pid)];
      const completedBefore = await completedTasks(store, id);
      run.child.kill("SIGKILL");
      await exitOf(run.child);
      await whenGone(dying);
      const startedByKill = startedTasks(f.log);
      row.kills++;
      row.runningAtKills += Math.max(0, startedByKill - completedBefore);
      // Restart at once: the same as a user would, from the shell.
      const resumed = spawnSync(process.execPath, [bin, "resume", id], { env, encoding: "utf8", timeout: FINISH_TIMEOUT_MS });
      const status = (await store.getDispatch(id as never))?.status;
      if (resumed.status !== 0 && status !== "COMPLETED") row.problems.push(`run ${i}: valence resume ${id} exited ${resumed.status}: ${resumed.stderr.trim()}`);
      await check(store, id, opts.fanOut, f, row, i);
    }
  } finally {
    await store.close();
  }
  const left = await settled(dataDir);
  row.leftBehind += left.length;
  for (const p of left) row.problems.push(`left behind: pid ${p.pid} ${p.cmdline}`);
}

/** Compares a finished dispatch with what the workflow must give; counts re-runs and losses. */
async function check(store: SqliteStore, id: string, n: number, f: { log: string; out: string }, row: TargetRow, i: number): Promise<void> {
  const want = expected(n);
  const problems: string[] = [];
  const d = await store.getDispatch(id as never);
  if (d?.status !== "COMPLETED") problems.push(`status ${d?.status ?? "missing"}`);
  else {
    const result = (await readResult(store, id as never)).result;
    if (!isDeepStrictEqual(result, want.result)) problems.push(`result ${JSON.stringify(result)}, expected ${JSON.stringify(want.result)}`);
  }
  const stuck = (await family(store, id)).filter((x) => x.node.status === "RUNNING" && x.live);
  if (stuck.length) problems.push(`${stuck.length} nodes left RUNNING`);
  const out = existsSync(f.out) ? readFileSync(f.out, "utf8") : undefined;
  if (out !== want.file) problems.push(`output file holds ${JSON.stringify(out)}`);
  const tags = readTags(f.log);
  const missing = want.tags.filter((t) => !tags.includes(t));
  if (missing.length) problems.push(`tasks never ran: ${missing.slice(0, 5).join(", ")}`);
  row.reruns += tags.length - new Set(tags).size;
  if (problems.length) {
    row.lost++;
    row.problems.push(`run ${i} (${id}): ${problems.join("; ")}`);
  } else row.completed++;
}

/** Nodes of a dispatch and of its sublattice runs; `live` is false for runs superseded by a later one. */
async function family(store: SqliteStore, id: string) {
  const runs = [id, ...(await store.childDispatches(id as never)).map((c) => c.id)];
  const each = await Promise.all(
    runs.map(async (r) => {
      const status = (await store.getDispatch(r as never))?.status;
      return (await store.getNodes(r as never)).map((node) => ({ node, live: status !== "FAILED" && status !== "CANCELLED" }));
    }),
  );
  return each.flat();
}

/**
 * Tasks the store has as completed. Read before a kill, and the tasks
 * started (tags logged) read just after it, their difference is what was
 * running at the kill: a task that completes in between only loosens it.
 */
async function completedTasks(store: SqliteStore, id: string): Promise<number> {
  return (await family(store, id)).filter((x) => x.live && x.node.kind === "electron" && x.node.status === "COMPLETED").length;
}

function startedTasks(log: string): number {
  return new Set(readTags(log)).size;
}

/** Resolves once `m` tasks have logged their start (or after the finish timeout). */
async function tagsStarted(log: string, m: number): Promise<void> {
  const deadline = Date.now() + FINISH_TIMEOUT_MS;
  while (readTags(log).length < m && Date.now() < deadline) await sleep(2);
}

function readTags(log: string): string[] {
  return existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
}

async function finished(store: SqliteStore, id: string): Promise<void> {
  const deadline = Date.now() + FINISH_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const s = (await store.getDispatch(id as never))?.status;
    if (s === "COMPLETED" || s === "FAILED" || s === "CANCELLED") return;
    await sleep(20);
  }
}

/** One of the local worker processes of the runner that owns dispatch `id`, at random. */
async function workerOf(store: SqliteStore, id: string, random: () => number): Promise<number | undefined> {
  const runner = await runnerOf(store, id);
  const workers = runner === undefined ? [] : childrenOf(runner).filter((p) => p.cmdline.includes("worker-main"));
  return workers[Math.floor(random() * workers.length)]?.pid;
}

/** The runner that owns dispatch `id` (it records its pid when it takes the dispatch). */
async function runnerOf(store: SqliteStore, id: string): Promise<number | undefined> {
  for (let i = 0; i < 200; i++) {
    const pid = (await store.getDispatch(id as never))?.ownerPid;
    if (pid && cmdline(pid).includes("runner-main")) return pid;
    await sleep(10);
  }
  return undefined;
}

function kill9(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** Every process below `pid` (its children, theirs, …). */
function descendants(pid: number): number[] {
  const below = childrenOf(pid).map((c) => c.pid);
  return [...below, ...below.flatMap(descendants)];
}

/** Resolves once none of `pids` runs (a zombie has ended), or after 10 s. */
async function whenGone(pids: readonly number[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  const running = (pid: number) => {
    try {
      const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
      return state !== "Z" && state !== "X";
    } catch {
      return false;
    }
  };
  while (pids.some(running) && Date.now() < deadline) await sleep(1);
}

function childrenOf(ppid: number): Array<{ pid: number; cmdline: string }> {
  const out: Array<{ pid: number; cmdline: string }> = [];
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      if (Number(fields[1]) === ppid && fields[0] !== "Z") out.push({ pid, cmdline: cmdline(pid) });
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Processes still working on `dataDir` (they inherit VALENCE_DATA_DIR), after up to 10 s. */
async function settled(dataDir: string): Promise<Array<{ pid: number; cmdline: string }>> {
  const marker = `VALENCE_DATA_DIR=${dataDir}\0`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const left: Array<{ pid: number; cmdline: string }> = [];
    for (const name of readdirSync("/proc")) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      try {
        if (!`${readFileSync(`/proc/${pid}/environ`, "latin1")}\0`.includes(marker)) continue;
        if (readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] === "Z") continue;
        left.push({ pid, cmdline: cmdline(pid) });
      } catch {
        /* gone */
      }
    }
    if (!left.length || Date.now() > deadline) return left;
    await sleep(50);
  }
}

function exitOf(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", () => r()));
}

/**
 * The port of every server in a campaign: the SDK settles on one server per
 * process, and this process is the client of each in turn.
 */
let campaignPort: Promise<number> | undefined;

/** A foreground server on the campaign's port (clients keep its address across restarts). */
class ServerProcess {
  private child: ChildProcess | undefined;
  private port = 0;
  constructor(private readonly dataDir: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await (campaignPort ??= freePort());
    // Its log, one file for all its lives, beside the data dir.
    const logFd = openSync(`${this.dataDir}.server.log`, "a");
    const child = spawn(process.execPath, [bin, "start", "--foreground", "--port", String(this.port)], {
      env: { ...process.env, VALENCE_DATA_DIR: this.dataDir, VALENCE_SERVER: "" },
      stdio: ["ignore", logFd, "pipe"],
    });
    closeSync(logFd);
    let err = "";
    child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
    this.child = child;
    for (let i = 0; i < 600; i++) {
      if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode} while starting: ${err}`);
      try {
        const health = (await (await fetch(`${this.url}/api/v1/health`)).json()) as { pid?: number };
        if (health.pid === child.pid) return;
      } catch {
        /* not listening yet */
      }
      await sleep(25);
    }
    throw new Error(`the server did not answer within 15 s: ${err}`);
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    child.kill("SIGTERM");
    await exitOf(child);
  }
}

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const s = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => s.once("listening", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}


/** The campaign's table, as printed and as put in the README. */
export function formatTable(rows: readonly TargetRow[]): string {
  const lines = [
    "| target | kills | dispatches completed | re-runs | re-runs per kill | running at the kills (bound) | lost | left behind |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const per = r.kills ? (r.reruns / r.kills).toFixed(2) : "-";
    lines.push(`| ${r.target} | ${r.kills} | ${r.completed}/${r.kills + r.missed} | ${r.reruns} | ${per} | ${r.runningAtKills} | ${r.lost} | ${r.leftBehind} |`);
  }
  return lines.join("\n");
}
