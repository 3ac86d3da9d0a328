/**
 * Turns a dispatch's entry module into one self-contained, content-addressed
 * ES module that any place running tasks can `import()` with nothing but node.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, rename, stat, unlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Message, Plugin } from "esbuild";
import { BundleError } from "./bundle-error.js";

export interface BundleResult {
  /** Absolute path of the bundle, `${bundlesDir}/${hash}.mjs`. */
  readonly path: string;
  /** sha256 (hex) of the bundle's bytes. */
  readonly hash: string;
}

/**
 * Bundled CommonJS dependencies call `require("fs")`; an ES module has no
 * `require`, so the bundle makes one. esbuild reserves the name `require` in
 * ESM output for node (a user's own `const require` is renamed), so this
 * cannot clash.
 */
const BANNER =
  'import { createRequire as __valenceCreateRequire } from "node:module";\n' +
  "const require = __valenceCreateRequire(import.meta.url);";

/**
 * Keeps the engine out of task bundles: the package entry (index.ts) loads
 * `./client/dispatcher.js` on first dispatch, and following that import would
 * pull the engine (SQLite, esbuild, the server client) into every bundle. In
 * a bundle it is a stub instead: a task never dispatches from its runner (a
 * top-level dispatch there never settles), and a bundle keeps no path of the
 * machine that built it.
 */
const ENGINE_DOOR: Plugin = {
  name: "valence-engine-door",
  setup(build) {
    build.onResolve({ filter: /^\.\/client\/dispatcher\.js$/ }, (args) => {
      const dir = dirname(args.importer);
      // Only valence's own entry (dist/index.js, or src/index.ts under tsx) has the door beside it.
      if (!existsSync(join(dir, "sdk", "engine-door.js")) && !existsSync(join(dir, "sdk", "engine-door.ts"))) return undefined;
      return { path: "dispatcher", namespace: "valence-engine-door" };
    });
    build.onLoad({ filter: /.*/, namespace: "valence-engine-door" }, () => ({
      contents:
        "export function currentDispatcher() {\n" +
        '  throw new Error("valence: a task bundle carries the SDK but not the engine, so it cannot dispatch");\n' +
        "}\n",
      loader: "js",
    }));
  },
};

interface CacheEntry {
  readonly result: BundleResult;
  /** Every file esbuild read, with the mtime and size it had after the build. */
  readonly inputs: ReadonlyArray<readonly [file: string, mtimeMs: number, size: number]>;
}

const cache = new Map<string, CacheEntry>();
const inFlight = new Map<string, Promise<BundleResult>>();
const stats = { builds: 0, cacheHits: 0 };

/**
 * Bundles `entryFile` and everything it imports (the SDK copy and npm
 * dependencies included; node built-ins stay external) into
 * `${bundlesDir}/${sha256}.mjs`, with an inline source map so stack traces
 * and electron call-site ids in workers point at the user's own files.
 *
 * The file is written atomically and never rewritten, so concurrent
 * dispatches and workers reading it cannot see a half-written bundle. Within
 * one process, bundling the same entry again costs a few `stat` calls when
 * none of its input files changed.
 *
 * @throws BundleError naming file, line and esbuild's message when the code does not build.
 * @example
 * const { path } = await bundleEntry(process.argv[1]!, join(dataDir, "bundles"));
 * await import(pathToFileURL(path).href); // registers the module's electrons
 */
export function bundleEntry(entryFile: string, bundlesDir: string): Promise<BundleResult> {
  const entry = resolve(entryFile);
  const dir = resolve(bundlesDir);
  const key = `${entry}\0${dir}`;
  // Two dispatches started together share one build instead of racing two.
  const running = inFlight.get(key);
  if (running) return running;
  const job = fromCache(key)
    .then((hit) => hit ?? buildBundle(entry, dir, key))
    .finally(() => inFlight.delete(key));
  inFlight.set(key, job);
  return job;
}

/** Counters for tests and diagnostics: how often esbuild ran, and how often the cache answered. */
export function bundlerStats(): { readonly builds: number; readonly cacheHits: number } {
  return { ...stats };
}

/** Forgets every cached bundle result (tests; a long-lived server after a deploy). */
export function clearBundleCache(): void {
  cache.clear();
}

async function fromCache(key: string): Promise<BundleResult | undefined> {
  const entry = cache.get(key);
  if (!entry) return undefined;
  const checks = entry.inputs.map(async ([file, mtimeMs, size]) => {
    const s = await stat(file);
    return s.mtimeMs === mtimeMs && s.size === size;
  });
  // The bundles dir may have been cleaned since: then the file must be written again.
  checks.push(stat(entry.result.path).then(() => true));
  const fresh = await Promise.all(checks).then(
    (all) => all.every(Boolean),
    () => false,
  );
  if (!fresh) {
    cache.delete(key);
    return undefined;
  }
  stats.cacheHits++;
  return entry.result;
}

async function buildBundle(entry: string, dir: string, key: string): Promise<BundleResult> {
  const cwd = process.cwd();
  stats.builds++;
  let output;
  try {
    // Loaded on first bundle: dispatches that run only in-process never pay for esbuild.
    const { build } = await import("esbuild");
    output = await build({
      entryPoints: [entry],
      absWorkingDir: cwd,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      // External here, inlined below once its paths are absolute (see `withAbsoluteSources`).
      sourcemap: "external",
      // Electron names may come from `fn.name`; esbuild renames colliding
      // top-level functions when it merges modules, which would change them.
      keepNames: true,
      banner: { js: BANNER },
      plugins: [ENGINE_DOOR],
      // Source-map paths are relative to the output file; the final file sits
      // in the same directory, so naming it here keeps them valid.
      outfile: join(dir, "bundle.mjs"),
      write: false,
      metafile: true,
      logLevel: "silent",
    });
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      throw new BundleError(
        entry,
        errors.map((m) => ({
          file: m.location ? readablePath(cwd, m.location.file) : undefined,
          line: m.location?.line,
          column: m.location?.column,
          text: m.text,
        })),
        { cause: error },
      );
    }
    throw new BundleError(entry, [{ file: undefined, line: undefined, column: undefined, text: String(error) }], {
      cause: error,
    });
  }
  const code = output.outputFiles.find((f) => f.path.endsWith(".mjs"));
  const map = output.outputFiles.find((f) => f.path.endsWith(".map"));
  if (!code || !map) throw new BundleError(entry, [{ file: undefined, line: undefined, column: undefined, text: "esbuild produced no output" }]);
  const contents = withAbsoluteSources(code.text, map.text, dir);
  const hash = createHash("sha256").update(contents).digest("hex");
  const path = join(dir, `${hash}.mjs`);
  await writeOnce(path, contents);
  const result: BundleResult = { path, hash };
  const inputs = await inputStats(cwd, Object.keys(output.metafile.inputs)).catch(() => undefined);
  // An input that vanished mid-build: the next call simply builds again.
  if (inputs) cache.set(key, { result, inputs });
  return result;
}

/**
 * The bundle with its source map inlined, the map's sources made absolute
 * `file://` URLs. Relative ones would only hold where the bundle was written:
 * a server keeps it in another directory, and there the user's original
 * files (read for electron names and shown in stacks) would not be found.
 */
function withAbsoluteSources(code: string, mapText: string, dir: string): Uint8Array {
  const map = JSON.parse(mapText) as { sources: string[]; sourceRoot?: string };
  map.sources = map.sources.map((s) => (/^[a-z-]{2,}:/i.test(s) ? s : pathToFileURL(resolve(dir, s)).href));
  delete map.sourceRoot;
  const body = code.replace(/\n\/\/# sourceMappingURL=[^\n]*\s*$/, "\n");
  const inline = Buffer.from(JSON.stringify(map)).toString("base64");
  return Buffer.from(`${body}//# sourceMappingURL=data:application/json;base64,${inline}\n`);
}

/** Content-addressed: an existing file already has these bytes. Temp file + rename so readers never see part of it. */
async function writeOnce(path: string, contents: Uint8Array): Promise<void> {
  if (await exists(path)) return;
  await mkdir(join(path, ".."), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, contents);
    await rename(tmp, path);
  } catch (error) {
    await unlink(tmp).catch(() => {});
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** esbuild names files relative to the working directory: fine below it, confusing as `../../tmp/x.ts`. */
function readablePath(cwd: string, file: string): string {
  return file.startsWith("..") ? resolve(cwd, file) : file;
}

async function inputStats(cwd: string, inputs: string[]): Promise<CacheEntry["inputs"]> {
  // Inputs from a plugin namespace ("ns:path") are not files on disk.
  const files = inputs.filter((i) => !/^[a-z-]{2,}:/i.test(i)).map((i) => resolve(cwd, i));
  return Promise.all(
    files.map(async (f) => {
      const s = await stat(f);
      return [f, s.mtimeMs, s.size] as const;
    }),
  );
}
