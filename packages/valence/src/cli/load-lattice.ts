/**
 * The lattices a user's file defines, for commands that take `FILE [--lattice NAME]`. The file
 * is imported as a task runner imports a bundle: its top-level `dispatch(...)` (or `trigger`)
 * never settles here, so importing it has no effect beyond defining its electrons and
 * lattices, and the import is not awaited alone: a module stuck on such an `await` has
 * defined what comes before it.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { TriggerSpecError } from "../errors.js";
import { globalRegistry, markTaskRunner } from "../sdk/global-registry.js";
import type { LatticeInfo } from "../sdk/lattice.js";
import { recordBaseline, watchStall } from "../task-runner/stall-watch.js";

/** The lattice called `name` in `file`, or its only lattice; a TriggerSpecError (field `lattice`) lists what it defines otherwise. */
export async function loadLattice(fileArg: string, name: string | undefined): Promise<LatticeInfo> {
  const file = resolve(fileArg);
  if (!existsSync(file)) throw new TriggerSpecError("lattice", `no such file: ${file}`);
  if (/\.[mc]?tsx?$/.test(file)) {
    const { register } = await import("tsx/esm/api");
    register();
  }
  markTaskRunner();
  recordBaseline();
  const loading = import(pathToFileURL(file).href);
  await new Promise<void>((resolveLoad, reject) => {
    const stop = watchStall(() => resolveLoad());
    loading.then(
      () => (stop(), resolveLoad()),
      (error: unknown) => (stop(), reject(error)),
    );
  });
  const defined = [...globalRegistry().lattices.values()].map((l) => l as LatticeInfo).filter((l) => l.file === file);
  const names = defined.map((l) => l.name).join(", ") || "none";
  const info = name === undefined ? (defined.length === 1 ? defined[0] : undefined) : defined.find((l) => l.name === name);
  if (!info) {
    const why = name === undefined ? `defines ${defined.length} lattices (${names}): say which with --lattice NAME` : `defines no lattice "${name}" (it defines: ${names})`;
    throw new TriggerSpecError("lattice", `${file} ${why}`);
  }
  return info;
}
