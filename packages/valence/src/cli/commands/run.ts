import { existsSync } from "node:fs";
import { resolve } from "node:path";
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
      await import(pathToFileURL(file).href);
      // Dispatches the script started but did not await still finish before we exit.
      const engine = await Engine.current();
      await Promise.all([...engine.runs.values()].map((r) => r.done));
    } finally {
      stopProgress();
    }
    return 0;
  },
};

function showProgress(): () => void {
  let shown = false;
  const timer = setInterval(() => {
    void Engine.current().then((engine) => {
      const parts: string[] = [];
      for (const id of engine.runs.keys()) {
        const d = engine.store.getDispatch(id);
        if (d && !d.parentId) parts.push(`${d.name} ${d.nodesDone}/${d.nodeCount} nodes`);
      }
      if (parts.length) {
        process.stderr.write(`\r\x1b[2K[valence] ${parts.join(", ")}`);
        shown = true;
      }
    });
  }, 250);
  timer.unref();
  return () => {
    clearInterval(timer);
    if (shown) process.stderr.write("\r\x1b[2K");
  };
}
