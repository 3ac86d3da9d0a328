/**
 * Finds executor plugins in the config's `executor_dirs`: every module there
 * that exports `executorPluginName`. A module has to be imported to learn
 * that, so these load at discovery; a module that fails is recorded, not thrown.
 */
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { ExecutorPluginError } from "../../errors.js";
import { readPlugin } from "./executor-class.js";
import { importPluginModule } from "./import-module.js";
import type { DiscoveryProblem, LoadedPlugin, PluginCandidate } from "./types.js";

const MODULE = /\.(m|c)?js$|\.m?ts$/;
// Declarations hold no code; tests beside an executor would run if imported.
const SKIP = /\.d\.m?ts$|\.(test|spec)\.[mc]?[jt]s$/;

/**
 * Imports the modules of each directory (not recursive; files in name order,
 * directories in the given order) and returns the plugins they declare.
 *
 * @example
 * const { candidates, problems } = await discoverDirPlugins(["/home/me/valence-executors"]);
 */
export async function discoverDirPlugins(
  dirs: readonly string[],
): Promise<{ candidates: PluginCandidate[]; problems: DiscoveryProblem[] }> {
  const candidates: PluginCandidate[] = [];
  const problems: DiscoveryProblem[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "does not exist" : code === "ENOTDIR" ? "is not a directory" : (error as Error).message;
      problems.push({ where: dir, message: `executor dir ${dir} ${why} (listed in executor_dirs)` });
      continue;
    }
    for (const name of names.sort()) {
      if (!MODULE.test(name) || SKIP.test(name)) continue;
      const file = path.join(dir, name);
      if (!(await stat(file).then((s) => s.isFile(), () => false))) continue;
      // Sequential on purpose: a module's top-level code may register things, and order should not vary.
      const candidate = await readDirModule(file);
      if (candidate) candidates.push(candidate);
    }
  }
  return { candidates, problems };
}

async function readDirModule(file: string): Promise<PluginCandidate | undefined> {
  const origin = `dir:${file}` as const;
  let ns: Record<string, unknown>;
  try {
    ns = await importPluginModule(file);
  } catch (error) {
    return failed(path.basename(file), false, origin, file, error as ExecutorPluginError);
  }
  try {
    const plugin = readPlugin(ns, file);
    if (!plugin) return undefined;
    const loaded: LoadedPlugin = { cls: plugin.cls, defaults: plugin.defaults };
    return { name: plugin.name, named: true, origin, location: file, status: "loaded", plugin: loaded };
  } catch (error) {
    const declared = ns["executorPluginName"];
    const named = typeof declared === "string" && declared !== "";
    return failed(named ? declared : path.basename(file), named, origin, file, error as ExecutorPluginError);
  }
}

function failed(name: string, named: boolean, origin: PluginCandidate["origin"], file: string, error: Error): PluginCandidate {
  return { name, named, origin, location: file, status: "broken", error };
}
