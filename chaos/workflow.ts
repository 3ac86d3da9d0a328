// The chaos campaign's workflow: inline and local tasks, a fan-out, a sublattice and a task
// that writes a file. Every task appends a tag of its own to a runs log first, so a task that
// runs again shows as a repeated tag.
import { appendFileSync, writeFileSync } from "node:fs";
import { electron, lattice } from "valence";

const mark = (log: string, tag: string) => appendFileSync(log, `${tag}\n`);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const square = electron(
  (x: number, log: string) => {
    mark(log, `square:${x}`);
    // Long enough (2 ms, on the worker's thread) that a kill can land among the squares.
    const until = Date.now() + 2;
    while (Date.now() < until);
    return x * x;
  },
  { executor: "local" },
);

export const total = electron(
  (xs: number[], log: string) => {
    mark(log, "total");
    return xs.reduce((a, b) => a + b, 0);
  },
  { executor: "inline" },
);

export const step = electron(
  async (x: number, i: number, log: string) => {
    mark(log, `step:${i}`);
    await pause(40);
    return x + i;
  },
  { executor: "inline" },
);

export const save = electron(
  (path: string, text: string, log: string) => {
    mark(log, "save");
    writeFileSync(path, text);
    return text.length;
  },
  { executor: "local" },
);

/** A chain of steps, as a sublattice. */
export const steps = lattice((x: number, log: string) => {
  let y = step(x, 1, log);
  for (let i = 2; i <= STEPS; i++) y = step(y, i, log);
  return y;
});

export const mixed = lattice((n: number, log: string, out: string) => {
  const squares = Array.from({ length: n }, (_, i) => square(i, log));
  const sum = total(squares, log);
  return { sum, chain: steps(sum, log), wrote: save(out, text(n), log) };
});

const STEPS = 6;
const text = (n: number) => `chaos: ${n} squares\n`;

export interface MixedResult {
  readonly sum: number;
  readonly chain: number;
  readonly wrote: number;
}

/** What `mixed(n, …)` returns, the file it writes, and the tags its tasks log (each once, if nothing ran again). */
export function expected(n: number): { result: MixedResult; file: string; tags: string[] } {
  const sum = ((n - 1) * n * (2 * n - 1)) / 6;
  const chain = sum + (STEPS * (STEPS + 1)) / 2;
  const tags = [...Array.from({ length: n }, (_, i) => `square:${i}`), "total", ...Array.from({ length: STEPS }, (_, i) => `step:${i + 1}`), "save"];
  return { result: { sum, chain, wrote: text(n).length }, file: text(n), tags };
}
