// A workflow that names its executor "ssh": the registry finds the installed valence-executor-ssh
// package and builds it from the config file's [executors.ssh] section.
import { electron, lattice } from "valence";

export const add = electron((x: number, y: number) => x + y, { executor: "ssh" });
export const multiply = electron((x: number, y: number) => x * y, { executor: "ssh" });
export const workflow = lattice((x: number, y: number) => multiply(y, add(x, y)));
