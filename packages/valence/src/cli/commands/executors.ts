import { Engine } from "../../engine/index.js";
import { UsageError, type Command } from "../command.js";
import { printTable } from "./list.js";

export const executorsCommand: Command = {
  name: "executors",
  summary: "list the executors the plugin registry finds, and where each came from",
  usage: `valence executors [--json]

Lists every executor name that dispatches can use: built-ins, installed npm packages
that declare themselves Valence executors, and modules in the configured executor_dirs,
with their origin and default options.`,
  async run(argv) {
    const json = argv.includes("--json");
    const extra = argv.filter((a) => a !== "--json");
    if (extra.length) throw new UsageError(`unknown arguments: ${extra.join(" ")}`, this.usage);
    const engine = await Engine.current();
    const rows = await engine.registry.list();
    if (json) {
      console.log(JSON.stringify(rows, null, 2));
      return 0;
    }
    printTable(
      ["NAME", "ORIGIN", "DEFAULTS"],
      rows.map((r) => [r.name, String(r.origin), JSON.stringify(r.defaults ?? {})]),
    );
    return 0;
  },
};
