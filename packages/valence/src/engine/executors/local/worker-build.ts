/**
 * Running from source (under tsx), the worker is first built into one plain
 * ES module and forked without tsx. Two reasons: tsx costs ~150 ms at every
 * worker start, and its loader hooks also process the task bundles a worker
 * imports, replacing their source maps, so call-site electron ids computed in
 * the worker would name the bundle instead of the user's file and no electron
 * would be found. From `dist/` the worker is plain JavaScript already.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as Esbuild from "esbuild";

const built = new Map<string, string>();

/** Builds `source` (worker-main.ts) once per process into a content-addressed `.mjs` in the temp dir, and returns its path. */
export function buildWorkerMain(source: string): string {
  const cached = built.get(source);
  if (cached) return cached;
  // Loaded only here: from dist/ the pool never needs esbuild.
  const esbuild = createRequire(import.meta.url)("esbuild") as typeof Esbuild;
  const dir = tmpdir();
  const result = esbuild.buildSync({
    entryPoints: [source],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "inline",
    outfile: join(dir, "valence-worker-main.mjs"),
    write: false,
    logLevel: "silent",
  });
  const contents = result.outputFiles[0]?.contents;
  if (!contents) throw new Error(`esbuild produced no output for ${source}`);
  const hash = createHash("sha256").update(contents).digest("hex").slice(0, 16);
  const path = join(dir, `valence-worker-main-${hash}.mjs`);
  if (!existsSync(path)) {
    // Temp file + rename: another process may be writing the same file right now.
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    writeFileSync(tmp, contents);
    renameSync(tmp, path);
  }
  built.set(source, path);
  return path;
}
