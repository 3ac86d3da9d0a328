// Workflows on a Dask cluster, dispatched by the tests as a user would. The scheduler's
// address comes from VALENCE_TEST_DASK_ADDRESS, set before this module is imported. On the
// workers the variable is unset: the executors are built but never used there.
import { writeFileSync } from "node:fs";
import { electron, lattice } from "valence";
import { DaskExecutor } from "../index.js";

const dask = new DaskExecutor({ schedulerAddress: process.env.VALENCE_TEST_DASK_ADDRESS ?? "tcp://unset:0" });

// DESIGN.md's TimingExecutor example, on Dask.
export const add = electron((x: number, y: number) => x + y, { executor: dask });
export const multiply = electron((x: number, y: number) => x * y, { executor: dask });
export const workflow = lattice((x: number, y: number) => {
  const r1 = add(x, y);
  return multiply(y, r1);
});

// Fan-out / fan-in: n squares, then one sum.
export const square = electron((x: number) => x * x, { executor: dask });
export const total = electron((xs: number[]) => xs.reduce((a, b) => a + b, 0), { executor: dask });
export const sumOfSquares = lattice((n: number) => total(Array.from({ length: n }, (_, i) => square(i))));

export const boom = electron((msg: string): number => {
  throw new Error(`boom: ${msg}`);
}, { executor: dask });
export const failing = lattice((msg: string) => boom(msg));

/** Writes its pid where the test looks, then sleeps: the test checks the process really stops. */
async function napAndTellImpl(pidFile: string, ms: number): Promise<number> {
  writeFileSync(pidFile, String(process.pid));
  await new Promise((r) => setTimeout(r, ms));
  return ms;
}
export const nap = electron(napAndTellImpl, { executor: dask, name: "nap" });
export const napFlow = lattice((pidFile: string, ms: number) => nap(pidFile, ms));
export const napBriefly = electron(napAndTellImpl, { executor: dask, name: "napBriefly", timeout: 3000 });
export const timeoutFlow = lattice((pidFile: string, ms: number) => napBriefly(pidFile, ms));

const unreachable = new DaskExecutor({
  schedulerAddress: process.env.VALENCE_TEST_DASK_CLOSED ?? "tcp://127.0.0.1:1",
  connectTimeout: 3,
});
export const lost = electron((x: number) => x, { executor: unreachable });
export const lostFlow = lattice((x: number) => lost(x));

// A chain: each task waits for the one before it.
export const inc = electron((x: number) => x + 1, { executor: dask });
export const chain = lattice((n: number) => {
  let h = inc(0);
  for (let i = 1; i < n; i++) h = inc(h);
  return h;
});

const noNode = new DaskExecutor({
  schedulerAddress: process.env.VALENCE_TEST_DASK_ADDRESS ?? "tcp://unset:0",
  nodePath: "/nonexistent/node",
});
export const nodeless = electron((x: number) => x, { executor: noNode });
export const nodelessFlow = lattice((x: number) => nodeless(x));

// By name: options come from the config file's [executors.dask] section.
export const double = electron((x: number) => x * 2, { executor: "dask" });
export const byNameFlow = lattice((x: number) => double(x));

// Persistent runners: which process ran each task, in either isolation mode.
const daskProcess = new DaskExecutor({
  schedulerAddress: process.env.VALENCE_TEST_DASK_ADDRESS ?? "tcp://unset:0",
  isolation: "process",
});
/** `pids` and the pid of the process running this task. */
function pidAfterImpl(pids: number[]): number[] {
  return [...pids, process.pid];
}
export const pidAfter = electron(pidAfterImpl, { executor: dask, name: "pidAfter" });
export const pidAfterProcess = electron(pidAfterImpl, { executor: daskProcess, name: "pidAfterProcess" });
function pidChainOf(step: (pids: number[]) => number[]) {
  return lattice((n: number) => {
    let pids = step([]);
    for (let i = 1; i < n; i++) pids = step(pids);
    return pids;
  });
}
/** n tasks one after another; the result is the pid each ran in. */
export const pidChain = pidChainOf(pidAfter);
export const pidChainProcess = pidChainOf(pidAfterProcess);

/** Ends the process running it: in runner mode, its runner. */
export const exitWith = electron((code: number): number => process.exit(code), { executor: dask, name: "exitWith" });
export const exitFlow = lattice((code: number) => exitWith(code));

/** napFlow with a node process per task: its output file is followed while it runs. */
export const napProcess = electron(napAndTellImpl, { executor: daskProcess, name: "napProcess" });
export const napProcessFlow = lattice((pidFile: string, ms: number) => napProcess(pidFile, ms));

/** The chain above with a node process per task. */
export const incProcess = electron((x: number) => x + 1, { executor: daskProcess, name: "incProcess" });
export const chainProcess = lattice((n: number) => {
  let h = incProcess(0);
  for (let i = 1; i < n; i++) h = incProcess(h);
  return h;
});
