import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ValenceError } from "../../errors.js";
import { pathToFileURL } from "node:url";
import { Engine } from "../../engine/index.js";
import { UsageError, type Command } from "../command.js";

const usage = `valence run FILE [-- ARGS...]

Runs a TypeScript or JavaScript file that dispatches workflows (embedded: no server
needed). ARGS become process.argv.slice(2) of the file. On a terminal, shows how many
nodes of each running dispatch are done.`;

export const runCommand: Command = {
  name: "run",
  summary: "run a workflow script (.ts or .js)",
  usage,
  async run(argv) {
    const stop = argv.indexOf("--");
    const head = stop < 0 ? argv : argv.slice(0, stop);
    const rest = stop < 0 ? [] : argv.slice(stop + 1);
    if (head.length !== 1) throw new UsageError(head.length ? `expected one FILE, got ${head.join(" ")}` : "missing FILE", usage);
    const file = resolve(head[0] as string);
    if (!existsSync(file)) throw new UsageError(`no such file: ${file}`, usage);
    if (/\.[mc]?tsx?$/.test(file)) {
      const { register } = await import("tsx/esm/api");
      register();
    }
    process.argv = [process.argv[0] as string, file, ...rest];
    const stopProgress = process.stderr.isTTY ? showProgress() : () => undefined;
    try {
      try {
        await import(pathToFileURL(file).href);
      } catch (error) {
        throw withModuleHint(file, error);
      }
      // Dispatches the script started embedded but did not await still finish before we exit
      // (sent to a server, they run there whether or not this process stays).
      const engine = await Engine.started();
      if (engine) await Promise.all([...engine.runs.values()].map((r) => r.done));
    } finally {
      stopProgress();
    }
    return 0;
  },
};

export class ScriptLoadError extends ValenceError {
  override readonly code = "SCRIPT_LOAD";
}

/**
 * A `.ts`/`.js` file in a package without `"type": "module"` loads as
 * CommonJS, where top-level `await dispatch(...)` fails with an error about
 * require cycles or the "cjs" output format. Say what to change instead.
 */
function withModuleHint(file: string, error: unknown): unknown {
  if (!/\.(ts|tsx|js)$/.test(file) || packageType(dirname(file)) === "module") return error;
  const message = error instanceof Error ? error.message : String(error);
  if (!/top-level await|require\(\) ES Module|ERR_REQUIRE_ASYNC_MODULE|cjs/i.test(message)) return error;
  return new ScriptLoadError(
    `${file} was loaded as CommonJS (its package.json has no "type": "module"), so top-level await cannot work. ` +
      `Add "type": "module" to the package.json, or rename the file to .mts. (${message.split("\n")[0]})`,
    { cause: error },
  );
}

function packageType(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const p = join(d, "package.json");
    if (existsSync(p)) {
      try {
        return (JSON.parse(readFileSync(p, "utf8")) as { type?: string }).type;
      } catch {
        return undefined;
      }
    }
    if (dirname(d) === d) return undefined;
  }
}

/** A one-line "nodes done / total" status on stderr, cleared before anything else is printed. */
function showProgress(): () => void {
  let shown = false;
  const clear = () => {
    if (shown) {
      shown = false;
      originalErr("\r\x1b[2K");
    }
  };
  const originalOut = process.stdout.write.bind(process.stdout) as (...a: unknown[]) => boolean;
  const originalErr = process.stderr.write.bind(process.stderr) as (...a: unknown[]) => boolean;
  const out = ((...a: unknown[]) => (clear(), originalOut(...a))) as typeof process.stdout.write;
  const err = ((...a: unknown[]) => (clear(), originalErr(...a))) as typeof process.stderr.write;
  process.stdout.write = out;
  process.stderr.write = err;
  const timer = setInterval(() => {
    void Engine.started()?.then(async (engine) => {
      const parts: string[] = [];
      for (const id of engine.runs.keys()) {
        const d = await engine.store.getDispatch(id);
        if (d && !d.parentId) parts.push(`${d.name} ${d.nodesDone}/${d.nodeCount} nodes`);
      }
      if (stopped) return; // the run ended while the store was read
      clear();
      if (parts.length) {
        originalErr(`[valence] ${parts.join(", ")}`);
        shown = true;
      }
    });
  }, 250);
  timer.unref();
  let stopped = false;
  return () => {
    stopped = true;
    clearInterval(timer);
    clear();
    // Only if nobody (per-task capture) wrapped them since.
    if (process.stdout.write === out) process.stdout.write = originalOut as typeof process.stdout.write;
    if (process.stderr.write === err) process.stderr.write = originalErr as typeof process.stderr.write;
  };
}
