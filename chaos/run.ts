// The crash-point campaign (see campaign.ts), from the shell:
//   npm run chaos -- [--kills N] [--targets server,runner,worker,embedded,team] [--fan-out 100] [--seed S]
// Prints the table and exits 1 if any dispatch was lost, a kill re-ran more than was running,
// or a process was left behind.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { formatTable, runCampaign, TARGETS, type Target } from "./campaign.js";

const { values } = parseArgs({
  options: { kills: { type: "string", default: "50" }, targets: { type: "string", default: TARGETS.join(",") }, "fan-out": { type: "string", default: "100" }, seed: { type: "string" } },
});
const targets = (values.targets ?? "").split(",").filter(Boolean) as Target[];
const unknown = targets.filter((t) => !(TARGETS as readonly string[]).includes(t));
if (unknown.length) {
  console.error(`chaos: unknown target ${unknown.join(", ")}; the targets are ${TARGETS.join(", ")}`);
  process.exit(2);
}
const kills = Number(values.kills);
const fanOut = Number(values["fan-out"]);
if (!(Number.isInteger(kills) && kills > 0) || !(Number.isInteger(fanOut) && fanOut > 0)) {
  console.error("chaos: --kills and --fan-out must be whole numbers above 0");
  process.exit(2);
}
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const workDir = mkdtempSync(join(tmpdir(), "valence-chaos-"));
// The campaign's own process is a client: its bundles go here, and no user config applies.
process.env["VALENCE_DATA_DIR"] = join(workDir, "client");
process.env["VALENCE_CONFIG"] = join(workDir, "no-config.toml");

const began = Date.now();
console.log(`chaos: ${kills} kills per target (${targets.join(", ")}), fan-out ${fanOut}, seed ${seed}, in ${workDir}`);
const rows = await runCampaign({ kills, targets, fanOut, seed, workDir: join(workDir, "runs"), log: (l) => console.log(`  ${l}`) });
console.log(`\n${formatTable(rows)}\n\n${((Date.now() - began) / 1000).toFixed(0)} s, seed ${seed}, ${new Date().toISOString()}`);
const bad = rows.filter((r) => r.lost || r.leftBehind || r.reruns > r.runningAtKills);
for (const r of rows) for (const p of r.problems.slice(0, 10)) console.log(`${r.target}: ${p}`);
process.exit(bad.length ? 1 : 0);
