/**
 * A dispatch's stored paths (its code bundles, its results dir) are those of
 * the server that received it. A team server that took the dispatch over may
 * be on another machine, where they do not exist: it keeps its own copies in
 * its own data dir, under the same names (a bundle is named by its hash, a
 * results dir by its dispatch id), and these functions find them.
 *
 * Looked up where the paths are used, rather than rewritten in the store at
 * take-over: nothing is written (the graph's node rows stay as they are, no
 * write races the runner's), and a path copied later from a stored dispatch
 * (a redispatch of one another server ran) resolves the same way.
 */
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { BundleLoadError } from "../errors.js";

/** This data dir's place for the bundle at `path` (of whichever server): `<dataDir>/bundles/<hash>.mjs`. */
export const bundleCopyPath = (path: string, dataDir: string): string => join(dataDir, "bundles", basename(path));

/** The bundle's hash: its file's name, less `.mjs`. */
export const bundleHashOf = (path: string): string => basename(path, ".mjs");

/** Where this process finds the bundle stored as `path`: there, or its copy in `dataDir`; undefined when neither exists. */
export function findBundle(path: string, dataDir: string): string | undefined {
  if (existsSync(path)) return path;
  const copy = bundleCopyPath(path, dataDir);
  return existsSync(copy) ? copy : undefined;
}

/**
 * `findBundle`, or a BundleLoadError naming the bundle's hash and where it was looked for.
 * `what` says whose bundle it is ("dispatch dsp_…").
 */
export function bundleHere(path: string, dataDir: string, what: string): string {
  const found = findBundle(path, dataDir);
  if (found) return found;
  throw new BundleLoadError(
    `${what}: its code bundle ${bundleHashOf(path)} is not on this machine (not at ${path}, nor at ${bundleCopyPath(path, dataDir)}); ` +
      "it was deleted, or, for a dispatch a team server took over, the team's database does not have it either",
  );
}

/**
 * Where this process keeps the results dir stored as `dir`: there if it exists (this server's,
 * or one of a server on this machine), else `<dataDir>/results/<dispatch id>`, created by the caller.
 */
export function resultsDirHere(dir: string, dataDir: string): string {
  return existsSync(dir) ? dir : join(dataDir, "results", basename(dir));
}
