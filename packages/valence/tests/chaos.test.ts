// The crash-point campaign (chaos/campaign.ts), short: a few kill -9s of each process that owns
// state — the server, a dispatch's runner, a local worker, an embedded `valence run`, one of two
// team servers on a Postgres of the test's own — at random moments of a mixed workflow, each
// restarted at once. `npm run chaos` runs the long one.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { join } from "node:path";
import { it } from "node:test";
import { formatTable, runCampaign, TARGETS } from "../../../chaos/campaign.js";

const KILLS = Number(process.env["VALENCE_CHAOS_KILLS"] ?? 3);
const SEED = Number(process.env["VALENCE_CHAOS_SEED"] ?? Math.floor(Math.random() * 2 ** 31));

it(`survives ${KILLS} kill -9s of each of ${TARGETS.join(", ")} (seed ${SEED})`, { timeout: 600_000 }, async (t) => {
  // The campaign's process is a client of its servers.
  delete process.env["VALENCE_SERVER"];
  const rows = await runCampaign({ kills: KILLS, targets: TARGETS, fanOut: 100, seed: SEED, workDir: join(dataDir, "chaos") });
  const table = formatTable(rows);
  t.diagnostic(`seed ${SEED} (rerun with VALENCE_CHAOS_SEED=${SEED})`);
  for (const line of table.split("\n")) t.diagnostic(line);
  for (const r of rows) {
    const why = `${r.target}, seed ${SEED}:\n${table}\n${r.problems.join("\n")}`;
    assert.equal(r.kills, KILLS, why);
    assert.equal(r.lost, 0, why);
    assert.equal(r.completed, r.kills + r.missed, why);
    assert.equal(r.leftBehind, 0, why);
    assert.ok(r.reruns <= r.runningAtKills, `${why}\nmore re-runs than tasks running at the kills`);
  }
});
