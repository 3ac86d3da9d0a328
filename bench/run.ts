// `npm run bench`: Valence and Dask on the same machine, in one process tree.
// Valence "cold": each of 3 fresh processes dispatches once (bundling, worker start-up and JIT
// included, as a user's script sees it); median time, peak RSS of the worst. "warm": one process
// dispatches 8 times; median of dispatches 4–8 (the steady state, once V8 has optimised the hot paths). Dask runs in Debian's python3 (bench/dask_bench.py).
// Prints a table with Valence/Dask ratios and writes it into bench/README.md between the markers.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSync } from "esbuild";

const here = new URL(".", import.meta.url).pathname;
const quick = process.argv.includes("--quick");

// The scenarios run as compiled JavaScript with plain `node` (how a deployed workflow runs; `valence run`
// and `tsx` add a TypeScript loader's start-up to every cold figure). "valence" stays external: the real package.
const scenarioJs = join(here, ".build", "valence-scenario.mjs");
buildSync({
  entryPoints: [join(here, "valence-scenario.ts")],
  outfile: scenarioJs,
  bundle: true,
  external: ["valence", "valence/*"],
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "inline",
  logLevel: "warning",
});

interface ValenceRun { scenario: string; cold: number; warm: number | null; maxRssMb: number; tasks: number }

function valenceOnce(scenario: string, runs: number): ValenceRun {
  const dataDir = mkdtempSync(join(tmpdir(), "valence-bench-"));
  const r = spawnSync(process.execPath, [scenarioJs, scenario, String(runs)], {
    encoding: "utf8",
    env: { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_CONFIG: join(dataDir, "none.toml") },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  if (r.status !== 0 || !line.startsWith("{")) throw new Error(`valence ${scenario} failed (exit ${r.status}): ${r.stdout}`);
  return JSON.parse(line) as ValenceRun;
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
  { label: "100k independent, inline vs threaded", valence: "inline_100k", dask: "threaded_100k_delayed_compute", tuned: "threaded_100k", target: 0.5 },
];

const d = dask();
const fmt = (s: number) => (s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`);
const ratio = (a: number, b: number) => (a / b).toFixed(2);
const rows = PAIRS.map((p) => {
  const v = valence(p.valence);
  const ds = daskSeconds(d, p.dask);
  const tuned = p.tuned ? daskSeconds(d, p.tuned) : undefined;
  const mark = (r: number) => (r <= p.target ? "✓" : "✗");
  return (
    `| ${p.label} | ${fmt(v.cold)} / ${fmt(v.warm)} | ${fmt(ds)} | **${ratio(v.cold, ds)}** ${mark(v.cold / ds)} / ${ratio(v.warm, ds)} ${mark(v.warm / ds)} | ≤ ${p.target} | ` +
    `${tuned === undefined ? "–" : `${fmt(tuned)} → ${ratio(v.cold, tuned)} / ${ratio(v.warm, tuned)}`} | ${v.rss} MB |`
  );
});
let table = [
  `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on this machine (2 cores); Dask ${d.version ?? "?"}${quick ? ", quick mode (1 run each)" : ""}.`,
  "Times run from `dispatch` to the result in hand, persistence (SQLite) included; Valence's scenarios run as compiled JS with `node`. Valence cold = a fresh process's",
  "first dispatch (bundling, worker start-up, JIT warm-up included; median of 3 processes); warm = the steady state of",
  "one process (median of its dispatches 4–8). Dask = `dask.compute(..., scheduler=\"threads\")` on delayed tasks, and `client.map` +",
  "`gather` on a `LocalCluster` with worker-saturation `inf`; \"Dask tuned\" = a raw graph with `dask.threaded.get(..., chunksize=100)`.",
  "",
  "| scenario | Valence cold / warm | Dask | Valence/Dask cold / warm | target | Dask tuned → ratios | Valence peak RSS |",
  "| --- | --- | --- | --- | --- | --- | --- |",
  ...rows,
].join("\n");

// Per-task overhead of the remote executors, on sshd and a Dask scheduler + worker started on
// loopback, next to Dask's own round trip for one task (`client.submit(inc, i).result()`).
async function remoteRows(): Promise<string[]> {
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
    return ["ssh", "dask"].map((which) => {
      const dataDir = mkdtempSync(join(tmpdir(), "valence-bench-"));
      const r = spawnSync(process.execPath, [remoteJs, which, "20"], {
        encoding: "utf8",
        env: { ...process.env, ...env, VALENCE_DATA_DIR: dataDir, VALENCE_CONFIG: join(dataDir, "none.toml") },
        stdio: ["ignore", "pipe", "inherit"],
      });
      const line = r.stdout.trim().split("\n").at(-1) ?? "";
      if (r.status !== 0 || !line.startsWith("{")) throw new Error(`remote ${which} failed (exit ${r.status}): ${r.stdout}`);
      const { perTaskMs } = JSON.parse(line) as { perTaskMs: number };
      return `| \`${which}\`: chain of 20 | ${perTaskMs.toFixed(1)} ms | ${daskRoundTrip.toFixed(1)} ms | ${(perTaskMs / daskRoundTrip).toFixed(1)} |`;
    });
  } finally {
    await Promise.all([sshd.stop(), cluster.stop()]);
  }
}

const remote = [
  "",
  "Per-task overhead of the remote executors (warm: after one dispatch that opened the connection or bridge and uploaded the",
  "runner and bundle): a chain of 20 dependent trivial tasks dispatched and awaited, divided by 20; each task is a fresh",
  "`node valence-task` process on the far side. Dask = the mean of sequential `client.submit(inc, i).result()` round trips",
  "on the LocalCluster above (Python function, no process start).",
  "",
  "| executor | Valence per task | Dask `client.submit` per task | ratio |",
  "| --- | --- | --- | --- |",
  ...(await remoteRows()),
];
table += "\n" + remote.join("\n");
console.log(table);

const readme = join(here, "README.md");
const text = readFileSync(readme, "utf8");
const start = "<!-- bench:start -->";
const end = "<!-- bench:end -->";
if (text.includes(start) && text.includes(end) && !quick) {
  writeFileSync(readme, text.slice(0, text.indexOf(start) + start.length) + "\n" + table + "\n" + text.slice(text.indexOf(end)));
}
