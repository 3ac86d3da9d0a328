// `npm run bench`: Valence and Dask on the same machine, in one process tree.
// Valence "cold": each of 3 fresh processes dispatches once (bundling, worker start-up and JIT
// included, as a user's script sees it); median time, peak RSS of the worst. "warm": one process
// dispatches 8 times; median of dispatches 4–8 (the steady state, once V8 has optimised the hot paths). Dask runs in Debian's python3 (bench/dask_bench.py).
// Then the same figures through a server (`valence start --foreground` on a free port, stopped at the end): dispatch
// to first task and 10k tasks, next to the embedded ones and Dask distributed's (bench/latency-scenario.ts).
// Then "Through a server: SQLite vs Postgres": the same server with its dispatches stored in SQLite (the default)
// and in a Postgres started for the bench (a fresh database per server), for 10k inline tasks and for 20
// concurrent dispatches.
// Prints the tables with Valence/Dask ratios and writes them into bench/README.md between the markers.
//   node --import tsx bench/run.ts [--quick] [--only stores]
// --quick: fewer repetitions, README untouched. --only stores: just the SQLite-vs-Postgres section (its own markers).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { buildSync } from "esbuild";
import type { Postgres } from "@valence/test-services";

const here = new URL(".", import.meta.url).pathname;
// The figures are only as quiet as the machine: the 1-minute load average goes into the output.
const load = () => loadavg()[0]?.toFixed(1) ?? "?";
const loadAtStart = load();
const quick = process.argv.includes("--quick");
const SECTIONS = ["stores"] as const;
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt < 0 ? undefined : process.argv[onlyAt + 1];
if (only !== undefined && !(SECTIONS as readonly string[]).includes(only)) {
  console.error(`bench/run.ts: --only takes one of: ${SECTIONS.join(", ")}`);
  process.exit(2);
}

// The scenarios run as compiled JavaScript with plain `node` (how a deployed workflow runs; `valence run`
// and `tsx` add a TypeScript loader's start-up to every cold figure). "valence" stays external: the real package.
function compile(name: string, external: string[] = ["valence", "valence/*"]): string {
  const outfile = join(here, ".build", `${name}.mjs`);
  buildSync({
    entryPoints: [join(here, `${name}.ts`)],
    outfile,
    bundle: true,
    external,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "inline",
    logLevel: "warning",
  });
  return outfile;
}
const scenarioJs = compile("valence-scenario");

interface ValenceRun { scenario: string; cold: number; warm: number | null; maxRssMb: number; tasks: number }

/** Runs one scenario process (its own fresh data dir); `env` adds e.g. VALENCE_SERVER. Returns its JSON line. */
function scenarioProcess<T>(js: string, args: string[], env: Record<string, string> = {}): T {
  const dataDir = mkdtempSync(join(tmpdir(), "valence-bench-"));
  try {
    const r = spawnSync(process.execPath, [js, ...args], {
      encoding: "utf8",
      env: { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_CONFIG: join(dataDir, "none.toml"), ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const line = r.stdout.trim().split("\n").at(-1) ?? "";
    if (r.status !== 0 || !line.startsWith("{")) throw new Error(`${js} ${args.join(" ")} failed (exit ${r.status}): ${r.stdout}`);
    return JSON.parse(line) as T;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function valenceOnce(scenario: string, runs: number, env: Record<string, string> = {}): ValenceRun {
  return scenarioProcess<ValenceRun>(scenarioJs, [scenario, String(runs)], env);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function valence(scenario: string) {
  const colds = Array.from({ length: quick ? 1 : 3 }, () => valenceOnce(scenario, 1));
  const warm = valenceOnce(scenario, quick ? 2 : 8);
  return { cold: median(colds.map((c) => c.cold)), warm: warm.warm as number, rss: Math.max(...colds.map((c) => c.maxRssMb)) };
}

interface DaskOut {
  version?: string;
  variants?: Record<string, { median: number }>;
  [scenario: string]: unknown;
}

/** A scenario's median from dask_bench.py: a top-level figure or a `--variants` one. */
function daskSeconds(d: DaskOut, name: string): number {
  const v = typeof d[name] === "number" ? (d[name] as number) : d.variants?.[name]?.median;
  if (typeof v !== "number") throw new Error(`dask_bench.py gave no figure for ${name}`);
  return v;
}

function dask(): DaskOut {
  const r = spawnSync("/usr/bin/python3", [join(here, "dask_bench.py"), "--variants", ...(quick ? ["--quick"] : [])], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (r.status !== 0) throw new Error(`dask_bench.py failed (exit ${r.status})`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) as string) as DaskOut;
}

// Each Valence scenario against Dask as the issue defines it, and against Dask tuned further where that exists.
const PAIRS = [
  { label: "10k independent, inline vs threaded", valence: "inline_10k", dask: "threaded_10k_delayed_compute", tuned: "threaded_10k", target: 0.2 },
  { label: "10k independent, local vs distributed (2 procs)", valence: "local_10k", dask: "distributed_10k", tuned: undefined, target: 0.1 },
  { label: "chain of 1k, local vs distributed (2 procs)", valence: "local_chain_1k", dask: "distributed_chain_1k", tuned: undefined, target: 0.05 },
  // Issue 13's goals for 100k: ≤ 0.2 of threaded and a peak RSS under 250 MB.
  { label: "100k independent, inline vs threaded", valence: "inline_100k", dask: "threaded_100k_delayed_compute", tuned: "threaded_100k", target: 0.2, rssGoalMb: 250 },
];

const fmt = (s: number) => (s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`);
const ratio = (a: number, b: number) => (a / b).toFixed(2);

/** Embedded Valence against Dask (the first table). */
function embeddedTable(d: DaskOut, embedded: Map<string, { cold: number; warm: number }>): string {
  const rows = PAIRS.map((p) => {
    const v = valence(p.valence);
    embedded.set(p.valence, v);
    const ds = daskSeconds(d, p.dask);
    const tuned = p.tuned ? daskSeconds(d, p.tuned) : undefined;
    const mark = (r: number) => (r <= p.target ? "✓" : "✗");
    return (
      `| ${p.label} | ${fmt(v.cold)} / ${fmt(v.warm)} | ${fmt(ds)} | **${ratio(v.cold, ds)}** ${mark(v.cold / ds)} / ${ratio(v.warm, ds)} ${mark(v.warm / ds)} | ≤ ${p.target} | ` +
      `${tuned === undefined ? "–" : `${fmt(tuned)} → ${ratio(v.cold, tuned)} / ${ratio(v.warm, tuned)}`} | ${v.rss} MB` +
      `${"rssGoalMb" in p && p.rssGoalMb ? ` ${v.rss < p.rssGoalMb ? "✓" : "✗"} (< ${p.rssGoalMb} MB)` : ""} |`
    );
  });
  return [
    `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on this machine (${cpus().length} cores, load average ${loadAtStart} at the start); Dask ${d.version ?? "?"}${quick ? ", quick mode (1 run each)" : ""}.`,
    "Times run from `dispatch` to the result in hand, persistence (SQLite) included; Valence's scenarios run as compiled JS with `node`. Valence cold = a fresh process's",
    "first dispatch (bundling, worker start-up, JIT warm-up included; median of 3 processes); warm = the steady state of",
    "one process (median of its dispatches 4–8). Dask = `dask.compute(..., scheduler=\"threads\")` on delayed tasks, and `client.map` +",
    "`gather` on a `LocalCluster` with worker-saturation `inf`; \"Dask tuned\" = a raw graph with `dask.threaded.get(..., chunksize=100)`.",
    "",
    "| scenario | Valence cold / warm | Dask | Valence/Dask cold / warm | target | Dask tuned → ratios | Valence peak RSS |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

// Per-task overhead of the remote executors, on sshd and a Dask scheduler + worker started on
// loopback, next to Dask's own round trip for one task (`client.submit(inc, i).result()`).
async function remoteRows(d: DaskOut): Promise<string[]> {
  const { startSshd, startDask } = await import("@valence/test-services");
  const remoteJs = join(here, ".build", "remote-scenario.mjs");
  buildSync({
    entryPoints: [join(here, "remote-scenario.ts")],
    outfile: remoteJs,
    bundle: true,
    external: ["valence", "valence/*", "valence-executor-*"],
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "inline",
    logLevel: "warning",
  });
  const dir = mkdtempSync(join(tmpdir(), "valence-bench-remote-"));
  const sshd = await startSshd(join(dir, "sshd"));
  const cluster = await startDask(join(dir, "dask"));
  try {
    const env = {
      BENCH_SSH_PORT: String(sshd.port),
      BENCH_SSH_USER: sshd.username,
      BENCH_SSH_KEY: sshd.clientKeyFile,
      BENCH_SSH_KNOWN_HOSTS: sshd.knownHostsFile,
      BENCH_SSH_WORKDIR: join(dir, "ssh-work"),
      BENCH_DASK_ADDRESS: cluster.schedulerAddress,
    };
    const daskRoundTrip = daskSeconds(d, "distributed_submit_latency") * 1000;
    return ["ssh", "ssh-process", "dask", "dask-process"].map((which) => {
      const dataDir = mkdtempSync(join(tmpdir(), "valence-bench-"));
      const r = spawnSync(process.execPath, [remoteJs, which, "20"], {
        encoding: "utf8",
        env: { ...process.env, ...env, VALENCE_DATA_DIR: dataDir, VALENCE_CONFIG: join(dataDir, "none.toml") },
        stdio: ["ignore", "pipe", "inherit"],
      });
      rmSync(dataDir, { recursive: true, force: true });
      const line = r.stdout.trim().split("\n").at(-1) ?? "";
      if (r.status !== 0 || !line.startsWith("{")) throw new Error(`remote ${which} failed (exit ${r.status}): ${r.stdout}`);
      const { perTaskMs } = JSON.parse(line) as { perTaskMs: number };
      const [plugin, mode] = which.endsWith("-process") ? [which.slice(0, -8), "`isolation: \"process\"`"] : [which, "runners"];
      return `| \`${plugin}\` (${mode}): chain of 20 | ${perTaskMs.toFixed(1)} ms | ${daskRoundTrip.toFixed(1)} ms | ${(perTaskMs / daskRoundTrip).toFixed(2)} |`;
    });
  } finally {
    await Promise.all([sshd.stop(), cluster.stop()]);
  }
}

const remoteIntro = [
  "",
  "Per-task overhead of the remote executors (warm: after one dispatch that opened the connection or bridge and uploaded the",
  "runner and bundle): a chain of 20 dependent trivial tasks dispatched and awaited, divided by 20. \"runners\" (the default):",
  "tasks go to persistent `valence-task --serve` runners on the far side; `isolation: \"process\"`: each task is a fresh",
  "`node valence-task` process there. Dask = the mean of sequential `client.submit(inc, i).result()` round trips",
  "on the LocalCluster above (Python function, no process start).",
  "",
  "| executor | Valence per task | Dask `client.submit` per task | ratio |",
  "| --- | --- | --- | --- |",
];

// ---- Through the server -------------------------------------------------------------------------------------
// `valence start --foreground --port 0` on a fresh temp data dir, a scenario process with VALENCE_SERVER
// pointing at it (the public API then sends the traced graph and the bundle over HTTP), the server stopped.
// cold = a fresh server's first dispatch, from a fresh client process (median of 3 server starts);
// warm = one client's later dispatches to one server (the runner of the last dispatch of the same bundle takes the next).

interface ValenceServer { url: string; dataDir: string; child: ChildProcess }
const liveServers = new Set<ValenceServer>();
const valenceBin = join(dirname(createRequire(import.meta.url).resolve("valence/package.json")), "bin", "valence.js");

/** `store`: the server's VALENCE_STORE ("sqlite" or a postgres:// URL); unset, the server's default (the data dir's SQLite file). */
async function startValenceServer(store?: string): Promise<ValenceServer> {
  if (interrupted) throw new Error("bench interrupted: no new server");
  const dataDir = mkdtempSync(join(tmpdir(), "valence-bench-server-"));
  const logFd = openSync(join(dataDir, "bench-server.log"), "a");
  const child = spawn(process.execPath, [valenceBin, "start", "--foreground", "--port", "0"], {
    env: {
      ...process.env,
      VALENCE_DATA_DIR: dataDir,
      VALENCE_CONFIG: join(dataDir, "none.toml"),
      VALENCE_SERVER: "embedded",
      ...(store === undefined ? {} : { VALENCE_STORE: store }),
    },
    stdio: ["ignore", logFd, logFd],
  });
  closeSync(logFd);
  const server: ValenceServer = { url: "", dataDir, child };
  liveServers.add(server);
  // It writes DATA_DIR/server.json (its pid and URL) once it listens: how clients find a server.
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(20)) {
    if (child.exitCode !== null) break;
    try {
      const info = JSON.parse(readFileSync(join(dataDir, "server.json"), "utf8")) as { pid: number; url: string };
      if (info.pid === child.pid) return Object.assign(server, { url: info.url });
    } catch {
      /* not there yet */
    }
  }
  await stopValenceServer(server);
  throw new Error(`the Valence server did not start; its log:\n${readFileSync(join(dataDir, "bench-server.log"), "utf8").slice(-2000)}`);
}

/** Processes started for this data dir (the server, its runners, their workers all carry VALENCE_DATA_DIR). */
function processesOf(dataDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(`VALENCE_DATA_DIR=${dataDir}`)) pids.push(Number(entry));
    } catch {
      /* gone, or not ours */
    }
  }
  return pids;
}

async function stopValenceServer(server: ValenceServer): Promise<void> {
  const { child, dataDir } = server;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM"); // stops its runners, then exits
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }
  // Leave nothing running: runners and their workers exit with the server; make sure.
  let left = processesOf(dataDir);
  for (let i = 0; i < 100 && left.length; i++, left = processesOf(dataDir)) await sleep(50);
  if (left.length) {
    console.error(`bench: processes of the stopped server still alive, killing: ${left.join(", ")}`);
    for (const pid of left) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
  liveServers.delete(server);
  rmSync(dataDir, { recursive: true, force: true });
}

// The bench's Postgres (the SQLite-vs-Postgres section), and the temp dir it lives in.
let livePostgres: { pg: Postgres; dir: string } | undefined;

async function stopPostgres(): Promise<void> {
  if (!livePostgres) return;
  const { pg, dir } = livePostgres;
  livePostgres = undefined;
  try {
    await pg.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// If the bench dies or is interrupted, its servers and its Postgres go with it. (@valence/test-services
// SIGKILLs the services it started on exit and on these signals; it re-raises a signal only when no one
// else listens, so these handlers stay registered until the clean-up is done.)
process.on("exit", () => {
  for (const s of liveServers) {
    s.child.kill("SIGKILL");
    for (const pid of processesOf(s.dataDir)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    rmSync(s.dataDir, { recursive: true, force: true });
  }
  if (livePostgres) {
    try {
      process.kill(livePostgres.pg.pid, "SIGKILL");
    } catch {
      /* gone */
    }
    rmSync(livePostgres.dir, { recursive: true, force: true });
  }
});
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130); // a second one: no more waiting (the exit hook kills what is left)
    interrupted = true;
    void Promise.allSettled([...liveServers].map(stopValenceServer))
      .then(() => stopPostgres())
      .finally(() => process.exit(130));
  });
}

async function withServer<T>(body: (url: string) => T, store?: string): Promise<T> {
  const server = await startValenceServer(store);
  try {
    return body(server.url);
  } finally {
    await stopValenceServer(server);
  }
}

interface LatencyRun {
  cold: number;
  warm: number;
  coldAckMs: number;
  warmAckMs: number;
}
const latencyJs = compile("latency-scenario");
const colds = quick ? 1 : 3;

/** Dispatch → first task body (ms), embedded and through a server: cold (median of `colds` processes) and warm. */
async function latency(executor: "inline" | "local") {
  const embeddedColds = Array.from({ length: colds }, () => scenarioProcess<LatencyRun>(latencyJs, [executor, "1"]));
  const embeddedWarm = scenarioProcess<LatencyRun>(latencyJs, [executor, quick ? "3" : "10"]);
  const serverColds: LatencyRun[] = [];
  for (let i = 0; i < colds; i++) {
    serverColds.push(await withServer((url) => scenarioProcess<LatencyRun>(latencyJs, [executor, "1"], { VALENCE_SERVER: url })));
  }
  const serverWarm = await withServer((url) => scenarioProcess<LatencyRun>(latencyJs, [executor, quick ? "3" : "10"], { VALENCE_SERVER: url }));
  return {
    embedded: { cold: median(embeddedColds.map((r) => r.cold)), warm: embeddedWarm.warm },
    server: { cold: median(serverColds.map((r) => r.cold)), warm: serverWarm.warm },
    serverAck: { cold: median(serverColds.map((r) => r.coldAckMs)), warm: serverWarm.warmAckMs },
  };
}

/** 10k independent tasks through a server, dispatch → result in hand (seconds). */
async function serverThroughput(scenario: string) {
  const cs: number[] = [];
  for (let i = 0; i < colds; i++) cs.push((await withServer((url) => valenceOnce(scenario, 1, { VALENCE_SERVER: url }))).cold);
  const warm = await withServer((url) => valenceOnce(scenario, quick ? 2 : 8, { VALENCE_SERVER: url }));
  return { cold: median(cs), warm: warm.warm as number };
}

async function serverRows(d: DaskOut, embedded: Map<string, { cold: number; warm: number }>): Promise<string[]> {
  const loadBefore = load();
  const ms = (x: number) => (x < 10 ? `${x.toFixed(1)} ms` : x < 1000 ? `${x.toFixed(0)} ms` : `${(x / 1000).toFixed(2)} s`);
  const r = (a: number, b: number) => (a / b >= 100 ? (a / b).toFixed(0) : a / b >= 10 ? (a / b).toFixed(1) : (a / b).toFixed(2));
  const daskColdMs = daskSeconds(d, "distributed_first_task_cold") * 1000;
  const daskWarmMs = daskSeconds(d, "distributed_first_task") * 1000;
  const out: string[] = [];
  const acks: string[] = [];
  for (const executor of ["inline", "local"] as const) {
    const l = await latency(executor);
    out.push(
      `| \`dispatch\` → first task's body, 1 task \`${executor}\` | ${ms(l.embedded.cold)} / ${ms(l.embedded.warm)} | ${ms(l.server.cold)} / ${ms(l.server.warm)} | ` +
        `${ms(daskColdMs)} / ${ms(daskWarmMs)} | ${r(l.server.cold, l.embedded.cold)} / ${r(l.server.warm, l.embedded.warm)} | ` +
        `${r(l.server.cold, daskColdMs)} / ${r(l.server.warm, daskWarmMs)} |`,
    );
    acks.push(`${ms(l.serverAck.cold)} / ${ms(l.serverAck.warm)} (\`${executor}\`)`);
  }
  const dask10k = daskSeconds(d, "distributed_10k");
  for (const [scenario, label] of [
    ["inline_10k", "10k independent `inline`, `dispatch` → result"],
    ["local_10k", "10k independent `local` (2 procs), `dispatch` → result"],
  ] as const) {
    const e = embedded.get(scenario) as { cold: number; warm: number };
    const v = await serverThroughput(scenario);
    out.push(
      `| ${label} | ${fmt(e.cold)} / ${fmt(e.warm)} | ${fmt(v.cold)} / ${fmt(v.warm)} | ${fmt(dask10k)} | ` +
        `${r(v.cold, e.cold)} / ${r(v.warm, e.warm)} | ${r(v.cold, dask10k)} / ${r(v.warm, dask10k)} |`,
    );
  }
  return [
    "",
    "Through the server: `valence start --foreground` on a fresh temp data dir, and the scenario process with `VALENCE_SERVER`",
    "set, so the public API sends the traced graph and the code bundle over HTTP and the server runs the dispatch in a",
    "runner process (not the server). Server cold = a fresh client process's first dispatch to a server that has just started (median of 3",
    "server starts); warm = the steady state of one client and one server (median of dispatches 4–8, 4–10 for the first",
    "task). A cold dispatch gets the server's spare runner; a warm one the runner that ran the last dispatch of the same bundle",
    "(engine, store, bundle and local workers loaded). First task = from calling `dispatch` to the",
    "first line of the single task's body (the task returns its start time; each process stamps with `performance.now()`",
    "pinned to the system clock). Dask = `time.time()` before `client.submit` to `time.time()` in the task's body, on the",
    "LocalCluster above: cold = its first task after start-up (one sample), warm = median of 20 sequential submits. 10k =",
    "`dispatch` to all 10,000 outputs in the client (fetched over HTTP through the server); embedded figures from the first",
    `table. Through the server, \`dispatch\` itself returned (graph stored, runner started) after ${acks.join(", ")}`,
    "cold / warm; the rest of a cold first-task latency is mostly the runner loading the engine, the store and the bundle.",
    "",
    `Load average ${loadBefore} before this part, ${load()} after it.`,
    "",
    "| scenario | embedded cold / warm | server cold / warm | Dask distributed | server/embedded cold / warm | server/Dask cold / warm |",
    "| --- | --- | --- | --- | --- | --- |",
    ...out,
  ];
}

/** Everything but the stores section: embedded vs Dask, the remote executors, through the server. */
async function comparisonTables(): Promise<string> {
  const d = dask();
  const embedded = new Map<string, { cold: number; warm: number }>();
  let table = embeddedTable(d, embedded);
  table += "\n" + [...remoteIntro, ...(await remoteRows(d))].join("\n");
  table += "\n" + (await serverRows(d, embedded)).join("\n");
  return table;
}

// ---- Through a server: SQLite vs Postgres ------------------------------------------------------------------
// One Postgres for the bench (startPostgres in a temp dir: trust auth on loopback, fsync on, commits not waiting for the disk as SQLite's synchronous=NORMAL), a fresh
// database per server start; the same scenarios against servers on SQLite (VALENCE_STORE=sqlite) and on it.

type StoreKind = "sqlite" | "postgres";
let databases = 0;

/** A fresh store setting for one server start: "sqlite", or a new database in the bench's Postgres. */
async function freshStore(kind: StoreKind): Promise<string> {
  if (kind === "sqlite") return "sqlite";
  if (!livePostgres) throw new Error("the bench's Postgres is not running");
  const name = `bench_${++databases}`;
  await livePostgres.pg.psql(`CREATE DATABASE ${name}`);
  const url = new URL(livePostgres.pg.url);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A scenario through a server on `kind`: cold = median of `colds` fresh servers' first dispatch, warm = one server's steady state. */
async function throughStore(kind: StoreKind, scenario: string) {
  const cs: number[] = [];
  for (let i = 0; i < colds; i++) {
    const store = await freshStore(kind);
    cs.push((await withServer((url) => valenceOnce(scenario, 1, { VALENCE_SERVER: url }), store)).cold);
  }
  const store = await freshStore(kind);
  const warm = await withServer((url) => valenceOnce(scenario, quick ? 2 : 8, { VALENCE_SERVER: url }), store);
  return { cold: median(cs), warm: warm.warm as number };
}

const STORE_GOAL = 2;

async function storesTable(): Promise<string> {
  const { startPostgres } = await import("@valence/test-services");
  const dir = mkdtempSync(join(tmpdir(), "valence-bench-pg-"));
  try {
    livePostgres = { pg: await startPostgres(dir, { durable: true }), dir };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  try {
    const version = await livePostgres.pg.psql("show server_version");
    const loadBefore = load();
    const rows: string[] = [];
    let goal = "";
    for (const [scenario, label] of [
      ["inline_10k", "10k independent `inline`, `dispatch` → result"],
      ["concurrent_20x50", "20 concurrent dispatches of 50 `inline`, all `dispatch` → all results"],
    ] as const) {
      // Interleaved per scenario, so a change in the machine's load hits both stores alike.
      const s = await throughStore("sqlite", scenario);
      const p = await throughStore("postgres", scenario);
      const rc = p.cold / s.cold;
      const rw = p.warm / s.warm;
      const isGoal = scenario === "inline_10k";
      const mark = (r: number) => (isGoal ? ` ${r <= STORE_GOAL ? "✓" : "✗"}` : "");
      rows.push(
        `| ${label} | ${fmt(s.cold)} / ${fmt(s.warm)} | ${fmt(p.cold)} / ${fmt(p.warm)} | ` +
          `**${ratio(p.cold, s.cold)}**${mark(rc)} / **${ratio(p.warm, s.warm)}**${mark(rw)} | ${isGoal ? `≤ ${STORE_GOAL}` : "–"} |`,
      );
      if (isGoal) {
        const met = [rc <= STORE_GOAL && "cold", rw <= STORE_GOAL && "warm"].filter(Boolean);
        goal =
          `Goal (issue 15): Postgres ≤ ${STORE_GOAL}× SQLite for 10k inline through a server: ` +
          (met.length === 2 ? "**met** (cold and warm)." : met.length === 1 ? `**met ${met[0]} only**.` : "**not met**.");
      }
    }
    return [
      `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on this machine (${cpus().length} cores); Postgres ${version}${quick ? ", quick mode (1 cold run, 2 warm dispatches)" : ""}.`,
      "",
      "Through a server: SQLite vs Postgres. The same `valence start --foreground` server as above, its dispatches stored in",
      "the data dir's SQLite file (`VALENCE_STORE=sqlite`) or in a Postgres started for the bench (`startPostgres` from",
      "`@valence/test-services`: one cluster on loopback, fsync on, `synchronous_commit=off` like SQLite's `synchronous=NORMAL`, a fresh database per server start, passed as",
      "`VALENCE_STORE=postgres://…`); the server and its runners all use that store. Cold = a fresh client's first dispatch",
      `to a just-started server (${quick ? "one server start" : `median of ${colds} server starts`}); warm = one client and one server (${quick ? "its second dispatch" : "median of dispatches 4–8"}).`,
      "10k = `dispatch` to all 10,000 outputs in the client. 20 concurrent = 20 dispatches of 50 independent `inline` tasks",
      "submitted at once (`Promise.all` in one client), timed until all 20 results are in hand (the server runs each in a",
      "runner of its own unless one whose dispatch just finished takes it: up to 20 runners at a time).",
      "",
      `Load average ${loadBefore} before this part, ${load()} after it.`,
      "",
      "| scenario | SQLite cold / warm | Postgres cold / warm | Postgres/SQLite cold / warm | goal |",
      "| --- | --- | --- | --- | --- |",
      ...rows,
      "",
      goal,
    ].join("\n");
  } finally {
    await stopPostgres();
  }
}

// ---- Run, print, write into the README ---------------------------------------------------------------------
const parts: { markers: string; table: string }[] = [];
if (only === undefined) parts.push({ markers: "bench", table: await comparisonTables() });
parts.push({ markers: "bench:stores", table: await storesTable() });
console.log(parts.map((p) => p.table).join("\n\n"));

const readme = join(here, "README.md");
let text = readFileSync(readme, "utf8");
for (const { markers, table } of parts) {
  const start = `<!-- ${markers}:start -->`;
  const end = `<!-- ${markers}:end -->`;
  if (text.includes(start) && text.includes(end) && !quick) {
    text = text.slice(0, text.indexOf(start) + start.length) + "\n" + table + "\n" + text.slice(text.indexOf(end));
  }
}
if (!quick) writeFileSync(readme, text);
