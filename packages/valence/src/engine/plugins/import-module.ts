/** Imports a plugin file, turning every failure into an `ExecutorPluginError` that names the file. */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ExecutorPluginError } from "../../errors.js";

const TYPESCRIPT = new Set([".ts", ".mts", ".cts"]);

/**
 * `import()`s `file` (absolute). A `.ts` file in a process started without
 * tsx is loaded through tsx's API instead (tsx is a dependency of valence),
 * so executor dirs may hold TypeScript either way.
 *
 * @example
 * const ns = await importPluginModule("/home/me/executors/timing.ts");
 */
export async function importPluginModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if (TYPESCRIPT.has(path.extname(file)) && errorCode(error) === "ERR_UNKNOWN_FILE_EXTENSION") {
      return importWithTsx(file, url, error);
    }
    throw importFailure(file, error, await syntaxErrorLine(file, error));
  }
}

/**
 * Node's ESM SyntaxError carries no file position; esbuild (already a
 * dependency, for bundles) parses the file again to find the line.
 */
async function syntaxErrorLine(file: string, error: unknown): Promise<number | undefined> {
  if (!(error instanceof SyntaxError)) return undefined;
  try {
    const [{ transform }, source] = await Promise.all([import("esbuild"), readFile(file, "utf8")]);
    await transform(source, { loader: TYPESCRIPT.has(path.extname(file)) ? "ts" : "js", format: "esm" });
  } catch (parseError) {
    return (parseError as { errors?: Array<{ location?: { line?: number } | null }> }).errors?.[0]?.location?.line;
  }
  return undefined;
}

async function importWithTsx(file: string, url: string, original: unknown): Promise<Record<string, unknown>> {
  let tsImport: (specifier: string, parent: string) => Promise<unknown>;
  try {
    ({ tsImport } = await import("tsx/esm/api"));
  } catch {
    throw typeScriptUnavailable(file, original);
  }
  try {
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  } catch (error) {
    throw importFailure(file, error, await syntaxErrorLine(file, error));
  }
}

/** The error for a TypeScript plugin in a process that cannot load TypeScript. */
export function typeScriptUnavailable(file: string, cause: unknown): ExecutorPluginError {
  return new ExecutorPluginError(
    file,
    "is TypeScript and tsx, which loads .ts files, is not available: compile it to .js, or install tsx and run under node --import tsx",
    { cause },
  );
}

/**
 * The error for a module that threw or failed to parse while being imported,
 * with the line: `line` if known, else the first stack frame in the file.
 */
export function importFailure(file: string, error: unknown, line?: number): ExecutorPluginError {
  const message = error instanceof Error ? error.message : String(error);
  const stack = error instanceof Error ? (error.stack ?? "") : "";
  const base = path.basename(file).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const at = new RegExp(`${base}:(\\d+)(?::\\d+)?`).exec(stack);
  const found = line ?? (at && !message.includes(at[0]) ? at[1] : undefined);
  const where = found === undefined ? "" : ` (line ${found})`;
  return new ExecutorPluginError(file, `failed to import: ${message}${where}`, { cause: error });
}

function errorCode(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
}
