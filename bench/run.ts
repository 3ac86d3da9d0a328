// `npm run bench`: Valence and Dask on the same machine, in one process tree.
// Each Valence scenario runs in its own process (so its peak RSS is its own);
// Dask runs in Debian's python3. Prints a table of times and Valence/Dask ratios
// and writes it into bench/README.md between the bench markers.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const quick = process.argv.includes("--quick");
const runs = quick ? "1" : "3";
const dataDir = mkdtempSync(join(tmpdir(), "valence-bench-"));

interface ValenceRow { scenario: string; seconds: number; first: number; maxRssMb: number; tasks: number }

function valence(scenario: string): ValenceRow {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(here, "valence-scenario.ts"), scenario, runs], {
    encoding: "utf8",
    env: { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_CONFIG: join(dataDir, "none.toml") },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  if (r.status !== 0 || !line.startsWith("{")) throw new Error(`valence ${scenario} failed (exit ${r.status}): ${r.stdout}`);
  return JSON.parse(line) as ValenceRow;
}

function dask(): Record<string, number> & { version?: string } {
  const r = spawnSync("/usr/bin/python3", [join(here, "dask_bench.py"), ...(quick ? ["--quick"] : [])], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (r.status !== 0) throw new Error(`dask_bench.py failed (exit ${r.status})`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) as string) as Record<string, number> & { version?: string };
}

const PAIRS = [
  { label: "10k independent tasks, inline vs Dask threaded", valence: "inline_10k", dask: "threaded_10k", target: 0.2 },
  { label: "10k independent tasks, local vs Dask distributed (2 procs)", valence: "local_10k", dask: "distributed_10k", target: 0.1 },
  { label: "chain of 1k tasks, local vs Dask distributed (2 procs)", valence: "local_chain_1k", dask: "distributed_chain_1k", target: 0.05 },
  { label: "100k independent tasks, inline vs Dask threaded", valence: "inline_100k", dask: "threaded_100k", target: 0.5 },
];

const v = Object.fromEntries(PAIRS.map((p) => [p.valence, valence(p.valence)]));
const d = dask();
const fmt = (s: number) => (s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`);
const rows = PAIRS.map((p) => {
  const vr = v[p.valence] as ValenceRow;
  const ds = d[p.dask] as number;
  const ratio = vr.seconds / ds;
  return `| ${p.label} | ${fmt(vr.seconds)} (first ${fmt(vr.first)}) | ${fmt(ds)} | **${ratio.toFixed(3)}** | ≤ ${p.target} ${ratio <= p.target ? "✓" : "✗"} | ${vr.maxRssMb} MB |`;
});
const table = [
  `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on this machine (${quick ? "1 run" : "median of 3"}; Dask ${d.version ?? "?"}).`,
  "Times are from `dispatch` to the result in hand, bundling and persistence included.",
  "",
  "| scenario | Valence | Dask | Valence/Dask | target | Valence peak RSS |",
  "| --- | --- | --- | --- | --- | --- |",
  ...rows,
].join("\n");
console.log(table);

const readme = join(here, "README.md");
const text = readFileSync(readme, "utf8");
const start = "<!-- bench:start -->";
const end = "<!-- bench:end -->";
if (text.includes(start) && text.includes(end) && !quick) {
  writeFileSync(readme, text.slice(0, text.indexOf(start) + start.length) + "\n" + table + "\n" + text.slice(text.indexOf(end)));
}
