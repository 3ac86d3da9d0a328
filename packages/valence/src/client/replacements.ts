/** Turning the SDK's `replaceElectrons: { add: newAdd }` into what a redispatch stores. */
import { ValenceError } from "../errors.js";
import type { Executor } from "../executor/executor.js";
import { ELECTRON, type ElectronInfo } from "../sdk/electron.js";
import type { RedispatchOptions } from "../sdk/engine-door.js";
import type { ExecutorRef } from "../sdk/graph.js";
import type { Replacement } from "../engine/redispatch.js";
import { sourceOf } from "../engine/submit.js";
import { globalRegistry } from "../sdk/global-registry.js";

export class ReplaceElectronError extends ValenceError {
  override readonly code = "REPLACE_ELECTRON";
}

export async function replacementsOf(
  opts: RedispatchOptions,
  resolveExecutor: (ref: ExecutorRef) => Promise<Executor>,
  bundle: (file: string) => Promise<string>,
): Promise<Replacement[]> {
  const out: Replacement[] = [];
  for (const [name, electron] of Object.entries(opts.replaceElectrons ?? {})) {
    const info = (electron as unknown as { [ELECTRON]?: ElectronInfo } | undefined)?.[ELECTRON];
    if (!info) throw new ReplaceElectronError(`replaceElectrons.${name}: must be an electron (wrap the new function with electron(fn))`);
    if (!info.file) throw new ReplaceElectronError(`replaceElectrons.${name}: cannot tell which module defined it, so its code cannot be bundled`);
    let executor: string | null = null;
    if (info.options.executor !== undefined) {
      const e = await resolveExecutor(info.options.executor);
      e.validate();
      executor = JSON.stringify(e.toSpec());
    }
    out.push({ name, electronId: info.id, executor, bundlePath: await bundle(info.file), source: sourceOf(globalRegistry().electrons.get(info.id) ?? { fn: info.fn }) });
  }
  return out;
}
