/**
 * Maps a call site in generated JavaScript back to its original source, when
 * the process itself does not (no --enable-source-maps).
 *
 * Why: electron ids come from call sites. A worker loads the dispatch's bundle
 * with source maps on, and esbuild composes the maps of its input files, so
 * the worker sees the *original* file and line (`workflow.ts:12`). A user who
 * runs `node dist/workflow.js` compiled with source maps would otherwise see
 * `workflow.js:9` in their own process, and no electron would be found.
 */
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** A place in a source file (1-based line and column), as a stack frame names it. */
export interface CallSite {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

const maps = new Map<string, SourceMap | null>();

function mapFor(file: string): SourceMap | null {
  let map = maps.get(file);
  if (map !== undefined) return map;
  map = null;
  try {
    const text = readFileSync(file, "utf8");
    // The comment is the file's last line; an inline map makes it as long as the map (hundreds of KB), so find
    // where it starts rather than scanning a fixed tail, which a larger bundle outgrows.
    const at = Math.max(text.lastIndexOf("//# sourceMappingURL="), text.lastIndexOf("//@ sourceMappingURL="));
    const url = at < 0 ? undefined : /^\/\/[#@] sourceMappingURL=(\S+)\s*$/.exec(text.slice(at))?.[1];
    if (url) {
      const payload = url.startsWith("data:")
        ? Buffer.from(url.slice(url.indexOf(",") + 1), url.includes(";base64,") ? "base64" : "utf8").toString("utf8")
        : readFileSync(resolve(dirname(file), decodeURIComponent(url)), "utf8");
      map = new SourceMap(JSON.parse(payload) as ConstructorParameters<typeof SourceMap>[0]);
    }
  } catch {
    map = null; // no readable map: the generated position is the one to use
  }
  maps.set(file, map);
  return map;
}

/** The original position of `site`, or `site` itself when it has no source map or the process maps stacks already. */
export function originalSite(site: CallSite): CallSite {
  if ((process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled) return site;
  const map = mapFor(site.file);
  if (!map) return site;
  const entry = map.findEntry(site.line - 1, site.column - 1) as {
    originalSource?: string;
    originalLine?: number;
    originalColumn?: number;
  };
  if (!entry.originalSource || entry.originalLine === undefined) return site;
  const source = entry.originalSource.startsWith("file://")
    ? fileURLToPath(entry.originalSource)
    : resolve(dirname(site.file), entry.originalSource);
  return { file: source, line: entry.originalLine + 1, column: (entry.originalColumn ?? 0) + 1 };
}
