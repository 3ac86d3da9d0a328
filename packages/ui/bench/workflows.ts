// The workflows the load-time benchmark dispatches (a module of their own: the code bundle a
// runner loads must not start the benchmark again).
import { electron, lattice } from "../../valence/src/index.js";

export const inc = electron((i: number) => i + 1, { executor: "inline" });
/** `n` independent incs: 2n nodes (each inc and its parameter). */
export const wide = lattice((n: number) => Array.from({ length: n }, (_, i) => inc(i)));

/** About 0.3 ms of work on the local pool: the timeline screenshot's tasks (two worker lanes, bars wide enough to see). */
export const work = electron(
  (i: number) => {
    const end = performance.now() + 0.3;
    while (performance.now() < end);
    return i;
  },
  { executor: "local" },
);
/** `n` independent works: 2n nodes (each work and its parameter). */
export const wideWork = lattice((n: number) => Array.from({ length: n }, (_, i) => work(i)));
