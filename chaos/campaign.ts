/**
 * The crash-point campaign: runs the mixed workflow (workflow.ts) again and
 * again and `kill -9`s, at a random moment of each run, one of the processes
 * that own its state, then restarts at once and checks what survived.
 *
 *   server    the server (`valence start --foreground`), started again at once
 *   runner    the dispatch's runner process (the server starts another)
 *   worker    one of the runner's local worker processes (the pool starts another)
 *   embedded  an embedded `valence run`, finished by `valence resume` at once
 *   team      one of two team servers on one Postgres (each run goes through the
 *             other one), started again at once: the other server takes the
 *             dispatch over once the dead one's lease ran out, or the restarted
 *             one does (it has a new server id)
 *
 * A kill may re-run only the tasks that were running at that moment: the
 * bound for each kill is the tasks that had started (logged their tag) less
 * those the store had as COMPLETED, read right after the kill.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { SqliteStore } from "../packages/valence/dist/engine/store/sqlite-store.js";
import { PostgresStore } from "../packages/valence/dist/engine/store/postgres/postgres-store.js";
import type { Store } from "../packages/valence/dist/engine/store/store.js";
import { readResult } from "../packages/valence/dist/engine/read-result.js";
import { ServerClient } from "../packages/valence/dist/client/server-client.js";
import { ServerDispatcher } from "../packages/valence/dist/client/server-dispatcher.js";
import { loadConfig } from "../packages/valence/dist/engine/config/index.js";
import { createRegistry } from "../packages/valence/dist/engine/plugins/registry.js";
import { BUILTIN_EXECUTORS } from "../packages/valence/dist/engine/engine.js";
import { latticeInfo } from "../packages/valence/dist/sdk/lattice.js";
import { startPostgres, type Postgres } from "../packages/test-services/src/index.js";
import { seededRandom } from "../packages/valence/src/test-support/seeded-random.js";
import { expected } from "./workflow.js";

export const TARGETS = ["server", "runner", "worker", "embedded", "team"] as const;
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
  /** Dispatches that did not complete with the right result, output file and tasks (or, team, were taken over twice). */
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
    const run = target === "embedded" ? runEmbedded : target === "team" ? runTeam : runThroughServer;
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

/** The team target's lease: short, so a dead server's dispatch moves on soon. */
const TEAM_LEASE_MS = 1500;

/**
 * Two team servers, A and B, on one Postgres (a fresh database, in a temp dir of its own).
 * Each run goes through one of them in turn; that one is killed inside the run and started
 * again at once (same data dir and port, a new server id). The dispatch is finished by the
 * other server or by the restarted one, whichever claims it first once the lease ran out.
 */
async function runTeam(_target: Target, dir: string, opts: CampaignOptions, random: () => number, row: TargetRow): Promise<void> {
  const pgDir = mkdtempSync(join(tmpdir(), "valence-chaos-pg-"));
  let pg: Postgres | undefined;
  let store: Store | undefined;
  const servers: ServerProcess[] = [];
  try {
    pg = await startPostgres(pgDir);
    await pg.psql("CREATE DATABASE valence_chaos");
    const url = new URL(pg.url);
    url.pathname = "/valence_chaos";
    const env = { VALENCE_STORE: url.toString(), VALENCE_LEASE_MS: String(TEAM_LEASE_MS) };
    for (const name of ["a", "b"]) servers.push(new ServerProcess(join(dir, name), { env, port: await freePort(), team: true }));
    for (const s of servers) await s.start();
    store = await PostgresStore.open({ url: url.toString(), dataDir: join(dir, "reader") });
    // A client of each server (the SDK's `dispatch` settles on one server per process).
    const { mixed } = await import("./workflow.js");
    const info = latticeInfo(mixed);
    if (!info) throw new Error("workflow.ts: mixed is not a lattice");
    const config = loadConfig();
    const registry = await createRegistry({ config, builtins: BUILTIN_EXECUTORS });
    const clients = servers.map((s) => new ServerDispatcher(new ServerClient(s.url), config, registry));
    const submit = (k: number, f: { log: string; out: string }) => clients[k]!.submit(info, [opts.fanOut, f.log, f.out]);

    // Runs untouched: through A (its client bundles the workflow first), B (as fresh as a
    // server started again after a kill: a spare runner waits, the bundle not loaded yet) and
    // A again (a runner idle with the bundle loaded). Kills land within the shortest but the
    // first, so that they come before the end in either case.
    const durations: number[] = [];
    for (const [c, k] of [0, 1, 0].entries()) {
      const calibration = files(dir, -1 - c);
      const t0 = Date.now();
      const first = await submit(k, calibration);
      await finished(store, first);
      durations.push(Date.now() - t0);
      await check(store, first, opts.fanOut, calibration, row, -1 - c);
      row.completed--;
    }
    const duration = Math.min(...durations.slice(1));
    opts.log?.(`  team: untouched runs took ${durations.join(", ")} ms (lease ${TEAM_LEASE_MS} ms)`);
    for (let i = 0; row.kills < opts.kills && i < opts.kills * 3; i++) {
      const k = i % 2;
      const via = servers[k]!;
      // A team server whose lease ran out before it could renew it (stalled) closes by itself.
      for (const s of servers) {
        if (s.pid !== undefined) continue;
        const tail = readFileSync(s.logFile, "utf8").trim().split("\n").slice(-3).join(" | ");
        row.problems.push(`before run ${i}: server ${"AB"[servers.indexOf(s)]} (${s.serverId}) had exited by itself (${s.exit}), started again: ${tail}`);
        await s.start();
      }
      const f = files(dir, i);
      const started = Date.now();
      const id = await submit(k, f);
      const killedId = via.serverId;
      await sleep(Math.max(0, started + duration * (0.02 + random() * 0.93) - Date.now()));
      const victim = via.pid;
      // Its runners (their own process groups, but its children) and their workers die with it.
      const dying = victim === undefined ? [] : [victim, ...descendants(victim)];
      const completedBefore = await completedTasks(store, id);
      const before = (await store.getDispatch(id))?.status;
      const killed = kill9(victim);
      const killedAt = Date.now();
      const counted = whenGone(dying).then((gone) => ({ gone, at: Date.now(), started: startedTasks(f.log) }));
      await via.start();
      const after = await counted;
      if (!after.gone) row.problems.push(`run ${i} (${id}): processes of the killed server ${killedId} still ran 10 s after the kill: ${dying.filter((p) => cmdline(p)).join(", ")}`);
      // A dispatch that had ended before the kill tests no take-over: another run takes its place.
      if (killed && before !== "COMPLETED") {
        row.kills++;
        row.runningAtKills += Math.max(0, after.started - completedBefore);
      } else {
        row.missed++;
      }
      await finished(store, id);
      const done = Date.now();
      // Who took it over: one server, once; a second take-over would mean two drove it. (None:
      // the killed server's runner finished it before it noticed its server was gone.)
      const takeovers = servers.flatMap((s, j) => (readFileSync(s.logFile, "utf8").match(new RegExp(`team: taking over ${id} from .*`, "g")) ?? []).map((line) => `${"AB"[j]}: ${line}`));
      const twice = takeovers.length > 1 ? [`taken over ${takeovers.length} times: ${takeovers.join(" | ")}`] : [];
      opts.log?.(
        `  team run ${i}: ${id} through ${"AB"[k]} (${killedId}), killed ${killedAt - started} ms in (${before}, ${completedBefore} tasks done, ${after.started} started; its processes gone in ${after.at - killedAt} ms), ` +
          `finished ${done - killedAt} ms after the kill; ${takeovers.map((t) => t.replace(/from server (srv_\w+) .*/, "from $1")).join(", ") || "no take-over"}`,
      );
      await check(store, id, opts.fanOut, f, row, i, twice);
    }
  } finally {
    await store?.close();
    // Both stop cleanly (SIGTERM: exit code 0, within 15 s), or that counts as left behind.
    for (const [j, s] of servers.entries()) {
      // The timer does not hold the process open once the server has stopped.
      const stopped = await Promise.race([s.stop().then(() => true), sleep(15_000, false, { ref: false })]);
      if (stopped && s.exit === "exit code 0") continue;
      if (!stopped) kill9(s.pid);
      row.leftBehind++;
      row.problems.push(`server ${"AB"[j]} (${s.serverId}) did not stop cleanly: ${stopped ? s.exit : "still running 15 s after SIGTERM"}`);
    }
    // Looked for while Postgres still runs: a runner stuck on its store must not be let off.
    for (const s of servers) {
      const left = await settled(s.dataDir);
      row.leftBehind += left.length;
      for (const p of left) row.problems.push(`left behind: pid ${p.pid} ${p.cmdline}`);
    }
    try {
      await pg?.stop();
    } finally {
      rmSync(pgDir, { recursive: true, force: true });
    }
  }
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

/** Compares a finished dispatch with what the workflow must give; counts re-runs and losses (`known`: problems found already). */
async function check(store: Store, id: string, n: number, f: { log: string; out: string }, row: TargetRow, i: number, known: readonly string[] = []): Promise<void> {
  const want = expected(n);
  const problems: string[] = [...known];
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
async function family(store: Store, id: string) {
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
async function completedTasks(store: Store, id: string): Promise<number> {
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

async function finished(store: Store, id: string): Promise<void> {
  const deadline = Date.now() + FINISH_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const s = (await store.getDispatch(id as never))?.status;
    if (s === "COMPLETED" || s === "FAILED" || s === "CANCELLED") return;
    await sleep(20);
  }
}

/** One of the local worker processes of the runner that owns dispatch `id`, at random. */
async function workerOf(store: Store, id: string, random: () => number): Promise<number | undefined> {
  const runner = await runnerOf(store, id);
  const workers = runner === undefined ? [] : childrenOf(runner).filter((p) => p.cmdline.includes("worker-main"));
  return workers[Math.floor(random() * workers.length)]?.pid;
}

/** The runner that owns dispatch `id` (it records its pid when it takes the dispatch). */
async function runnerOf(store: Store, id: string): Promise<number | undefined> {
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

/** Resolves once none of `pids` runs (a zombie has ended), or after 10 s: true if they are gone. */
async function whenGone(pids: readonly number[]): Promise<boolean> {
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
  return !pids.some(running);
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

/**
 * A foreground server on the campaign's port (clients keep its address across restarts),
 * or on a port of its own (`port`), with `env` added to its environment.
 */
class ServerProcess {
  private child: ChildProcess | undefined;
  private port: number;
  constructor(
    readonly dataDir: string,
    private readonly extra: { readonly env?: NodeJS.ProcessEnv; readonly port?: number; readonly team?: boolean } = {},
  ) {
    this.port = extra.port ?? 0;
  }

  /** Its log, one file for all its lives, beside the data dir. */
  get logFile(): string {
    return `${this.dataDir}.server.log`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await (campaignPort ??= freePort());
    const from = existsSync(this.logFile) ? statSync(this.logFile).size : 0;
    const logFd = openSync(this.logFile, "a");
    const child = spawn(process.execPath, [bin, "start", "--foreground", "--port", String(this.port)], {
      env: { ...process.env, ...this.extra.env, VALENCE_DATA_DIR: this.dataDir, VALENCE_SERVER: "" },
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
        if (health.pid === child.pid && (!this.extra.team || (this.serverId = this.joined(from)))) return;
      } catch {
        /* not listening yet */
      }
      await sleep(25);
    }
    throw new Error(`the server did not answer${this.extra.team ? " and join its team" : ""} within 15 s: ${err}`);
  }

  /** A team server's id, as its log says once it joined (a new one on each start). */
  serverId: string | undefined;

  /** The id in the log's "team server srv_…" line written after offset `from`, once there. */
  private joined(from: number): string | undefined {
    return /team server (srv_\w+)/.exec(readFileSync(this.logFile, "utf8").slice(from))?.[1];
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** How its last life ended, if it did. */
  get exit(): string | undefined {
    const c = this.child;
    return !c || (c.exitCode === null && c.signalCode === null) ? undefined : c.signalCode ? `killed by ${c.signalCode}` : `exit code ${c.exitCode}`;
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
