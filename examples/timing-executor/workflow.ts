// Covalent's custom-executor example, in TypeScript:
//   npx valence run examples/timing-executor/workflow.ts
import { readFileSync, rmSync } from "node:fs";
import { dispatch, electron, getResult, lattice } from "valence";
import { TimingExecutor } from "./timing-executor.js";

rmSync("./cpu_timing.log", { force: true });
const timing = new TimingExecutor("./cpu_timing.log");

export const add = electron((x: number, y: number) => x + y, { executor: timing });
export const multiply = electron((x: number, y: number) => x * y, { executor: timing });

export const workflow = lattice((x: number, y: number) => {
  const r1 = add(x, y);
  return multiply(y, r1);
});

const dispatchId = await dispatch(workflow)(3, 4);
const result = await getResult(dispatchId, { wait: true });
console.log(result.toString());
console.log(readFileSync("./cpu_timing.log", "utf8"));
