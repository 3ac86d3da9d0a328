import { electron, lattice } from "../packages/valence/src/index.js";
import { Engine } from "../packages/valence/src/engine/index.js";
import { latticeInfo } from "../packages/valence/src/sdk/lattice.js";
import { prepareSubmission } from "../packages/valence/src/engine/submit.js";
const inc = electron((i: number) => i + 1, { executor: "inline" });
const wide = lattice((n: number) => Array.from({ length: n }, (_, i) => inc(i)));
const N = Number(process.argv[2] ?? 10000);
const engine = await Engine.current();
const info = latticeInfo(wide)!;
for (let rep = 0; rep < 5; rep++) {
  let t = performance.now(); const lap = (l: string) => { const n = performance.now(); process.stdout.write(`${l} ${(n - t).toFixed(1)}  `); t = n; };
  wide.build(N); lap("trace");
  await prepareSubmission(engine, info, [N], undefined); lap("prepare");
  const run = await engine.submit(info, [N]); lap("submit");
  await run.done; lap("run");
  const r = await engine.getResult(run.id); lap("getResult");
  console.log(r.status);
}
