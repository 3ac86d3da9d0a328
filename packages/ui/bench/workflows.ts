// The workflows the load-time benchmark dispatches (a module of their own: the code bundle a
// runner loads must not start the benchmark again).
import { electron, lattice } from "../../valence/src/index.js";

export const inc = electron((i: number) => i + 1, { executor: "inline" });
/** `n` independent incs: 2n nodes (each inc and its parameter). */
export const wide = lattice((n: number) => Array.from({ length: n }, (_, i) => inc(i)));
