// The README's result-cache example: `npx valence run examples/result-cache/main.ts` (run it twice).
import { electron, lattice, dispatchSync } from "valence";

// An expensive step: cached, so the same code on the same input runs once, across dispatches.
const features = electron(
  async (sample: string) => {
    await new Promise((r) => setTimeout(r, 1000)); // stands for a long computation
    return { sample, score: sample.length * 7 };
  },
  { executor: "local", cache: { ttl: 24 * 3600_000 } }, // or cache: true (until cleared)
);
const report = electron((f: { sample: string; score: number }) => `${f.sample}: ${f.score}`, { executor: "inline" });

const pipeline = lattice((sample: string) => report(features(sample)));

for (const run of [1, 2]) {
  const started = Date.now();
  const r = await dispatchSync(pipeline)("sample-42");
  const f = r.nodes.find((n) => n.name === "features");
  const how = f?.cachedFrom ? `reused ${f.cachedFrom.dispatchId} node ${f.cachedFrom.nodeId}` : "ran";
  console.log(`run ${run}: ${r.result} in ${Date.now() - started} ms; features ${how}`);
}
