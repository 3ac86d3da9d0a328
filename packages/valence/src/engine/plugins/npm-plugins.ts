/**
 * Finds installed npm packages that declare a Valence executor in their
 * package.json:
 *
 *     "valence": { "executor": { "name": "ssh", "entry": "./dist/index.js" } }
 *
 * Only package.json files are read (the entry is imported on first use), so
 * listing executors stays cheap even with thousands of packages installed.
 */
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { ExecutorPluginError } from "../../errors.js";
import { readPlugin } from "./executor-class.js";
import { importPluginModule } from "./import-module.js";
import type { LoadedPlugin, PluginCandidate } from "./types.js";

/** `{ name, entry }`, both non-empty strings. Checked by hand: two fields do not need zod's ~35 ms load. */
function declaration(value: unknown): { name: string; entry: string } | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { name, entry } = value as { name?: unknown; entry?: unknown };
  return typeof name === "string" && name !== "" && typeof entry === "string" && entry !== "" ? { name, entry } : undefined;
}

/**
 * Scans `node_modules` in `cwd` and every directory above it, as Node
 * resolves packages, scoped packages included. Nearest first; a package seen
 * through several paths (workspace symlinks) counts once.
 *
 * @example
 * const found = await discoverNpmPlugins(process.cwd()); // [{ name: "ssh", origin: "npm:valence-executor-ssh@0.1.0", … }]
 */
export async function discoverNpmPlugins(cwd: string): Promise<PluginCandidate[]> {
  const found: PluginCandidate[] = [];
  const seen = new Set<string>();
  for (const dir of ancestors(path.resolve(cwd))) {
    const packages = await packageDirs(path.join(dir, "node_modules"));
    const declared = await Promise.all(packages.map(readDeclaration));
    for (const candidate of declared) {
      if (!candidate) continue;
      const real = await realpath(candidate.location as string).catch(() => candidate.location as string);
      if (seen.has(real)) continue;
      seen.add(real);
      found.push(candidate);
    }
  }
  return found;
}

function ancestors(dir: string): string[] {
  const out = [dir];
  for (let d = dir, up = path.dirname(d); up !== d; d = up, up = path.dirname(d)) out.push(up);
  return out;
}

async function packageDirs(nodeModules: string): Promise<string[]> {
  const names = await readdir(nodeModules).catch(() => [] as string[]);
  const dirs: string[] = [];
  for (const name of names.sort()) {
    if (name.startsWith(".")) continue;
    if (name.startsWith("@")) {
      const scoped = await readdir(path.join(nodeModules, name)).catch(() => [] as string[]);
      for (const inner of scoped.sort()) if (!inner.startsWith(".")) dirs.push(path.join(nodeModules, name, inner));
    } else {
      dirs.push(path.join(nodeModules, name));
    }
  }
  return dirs;
}

async function readDeclaration(packageDir: string): Promise<PluginCandidate | undefined> {
  const manifest = path.join(packageDir, "package.json");
  const text = await readFile(manifest, "utf8").catch(() => "");
  // Most packages never mention valence: skip them before paying for JSON.parse.
  if (!text.includes('"valence"')) return undefined;
  let pkg: { name?: unknown; version?: unknown; valence?: { executor?: unknown } };
  try {
    pkg = JSON.parse(text) as typeof pkg;
  } catch {
    return undefined; // Not ours to judge: npm itself would complain about this package.
  }
  const executor = pkg.valence?.executor;
  if (executor === undefined) return undefined;
  const packageName = typeof pkg.name === "string" ? pkg.name : path.basename(packageDir);
  const origin = `npm:${packageName}${typeof pkg.version === "string" ? `@${pkg.version}` : ""}` as const;
  const parsed = declaration(executor);
  if (!parsed) {
    const name = (executor as { name?: unknown } | null)?.name;
    return broken(
      typeof name === "string" && name ? name : packageName,
      origin,
      packageDir,
      new ExecutorPluginError(manifest, `"valence.executor" must be { "name": "<executor name>", "entry": "./path/to/module.js" }`),
    );
  }
  const { name, entry } = parsed;
  const entryFile = path.resolve(packageDir, entry);
  const exists = await stat(entryFile).then((s) => s.isFile(), () => false);
  if (!exists) {
    return broken(name, origin, packageDir, new ExecutorPluginError(manifest, `entry "${entry}" is not a file (is the package built?)`));
  }
  const load = async (): Promise<LoadedPlugin> => {
    const plugin = readPlugin(await importPluginModule(entryFile), entryFile, name);
    if (!plugin) throw new ExecutorPluginError(entryFile, "is not an executor plugin module");
    return { cls: plugin.cls, defaults: plugin.defaults };
  };
  return { name, named: true, origin, location: packageDir, status: "lazy", load };
}

function broken(name: string, origin: PluginCandidate["origin"], location: string, error: Error): PluginCandidate {
  return { name, named: true, origin, location, status: "broken", error };
}
