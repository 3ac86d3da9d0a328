/**
 * Loads `ssh2` on first use rather than importing it.
 *
 * A workflow module that uses `new SSHExecutor(...)` is bundled with esbuild
 * for the hosts that run its tasks, and ssh2 cannot be bundled (it has
 * native `.node` add-ons) nor is it needed there: only the dispatcher
 * connects. A `require` made with `createRequire` is invisible to esbuild,
 * so the bundle never contains ssh2 and never loads it.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import type * as Ssh2 from "ssh2";
import { ExecutorDefinitionError } from "valence/executor";

export type Ssh2Module = typeof Ssh2;

let ssh2: Ssh2Module | undefined;

export function loadSsh2(): Ssh2Module {
  if (ssh2) return ssh2;
  // Beside this file when installed; from the working directory when this code runs from a dispatch's bundle.
  for (const base of [import.meta.url, join(process.cwd(), "package.json")]) {
    try {
      ssh2 = createRequire(base)("ssh2") as Ssh2Module;
      return ssh2;
    } catch {
      // Try the next place.
    }
  }
  throw new ExecutorDefinitionError(
    "the ssh executor needs the ssh2 package where the dispatcher runs: `npm install valence-executor-ssh` in the project that dispatches",
  );
}
