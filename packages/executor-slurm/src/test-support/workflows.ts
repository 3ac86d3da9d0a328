// Workflows on the Slurm executor for the scenario tests: this module is what each job loads.
import { electron, lattice } from "valence";
import { SlurmExecutor, type SlurmExecutorOptions } from "../index.js";
import { testOptions } from "./settings.js";

const base = testOptions();
const slurm = new SlurmExecutor(base);

// The TimingExecutor example graph of DESIGN.md §1, on Slurm.
export const add = electron((x: number, y: number) => x + y, { executor: slurm });
export const multiply = electron((x: number, y: number) => x * y, { executor: slurm });
export const workflow = lattice((x: number, y: number) => {
  const r1 = add(x, y);
  return multiply(y, r1);
});

// Fan-out / fan-in: n squares in parallel jobs, then one job sums them.
export const square = electron((x: number) => x * x, { executor: slurm });
export const sum = electron((xs: number[]) => xs.reduce((a, b) => a + b, 0), { executor: slurm });
export const sumOfSquares = lattice((n: number) => sum(Array.from({ length: n }, (_, i) => square(i + 1))));

// By name: the registry makes it from the package's declaration and the config file's [executors.slurm] table.
export const increment = electron((x: number) => x + 1, { executor: "slurm" });
export const byName = lattice((x: number) => increment(x));

// Failures, each on an executor with the option that causes it.
export const boom = electron((why: string): number => {
  throw new Error(`boom: ${why}`);
}, { executor: slurm });
export const failing = lattice((why: string) => boom(why));

// Electrons are registered at the module's top level, where the job that loads this module finds them.
const one = () => 1;
const on = (options: SlurmExecutorOptions) => new SlurmExecutor({ ...base, ...options });
export const badOptionTask = electron(one, { name: "badOption", executor: on({ sbatchOptions: { "no-such-option": "1" } }) });
export const badOption = lattice(() => badOptionTask());
export const badPartitionTask = electron(one, { name: "badPartition", executor: on({ partition: "no-such-partition" }) });
export const badPartition = lattice(() => badPartitionTask());
export const tooManyCpusTask = electron(one, { name: "tooManyCpus", executor: on({ cpusPerTask: 512 }) });
export const tooManyCpus = lattice(() => tooManyCpusTask());
export const badPrerunTask = electron(one, { name: "badPrerun", executor: on({ prerunCommands: ["echo preparing", "no-such-command --really"] }) });
export const badPrerun = lattice(() => badPrerunTask());

// Long enough to cancel: from Valence, or behind its back with scancel.
export const snooze = electron(async (ms: number) => {
  await new Promise((r) => setTimeout(r, ms));
  return ms;
}, { executor: slurm });
export const snoozeFlow = lattice((ms: number) => snooze(ms));
