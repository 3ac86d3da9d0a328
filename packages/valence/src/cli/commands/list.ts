import { formatTable } from "../table.js";
import { currentDispatcher } from "../../client/dispatcher.js";
import { parseOrUsage, UsageError, type Command } from "../command.js";

const usage = `valence list [--limit N] [--json]

Recent dispatches, newest first: id, status, lattice, nodes done/total, start, duration.`;

export const listCommand: Command = {
  name: "list",
  summary: "list recent dispatches",
  usage,
  async run(argv) {
    const { values } = parseOrUsage({ args: argv, options: { limit: { type: "string", default: "20" }, json: { type: "boolean" } } }, usage);
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit <= 0) throw new UsageError(`--limit must be a positive whole number, got "${values.limit}"`, usage);
    const dispatcher = await currentDispatcher();
    const rows = await dispatcher.list(limit);
    if (values.json) {
      console.log(JSON.stringify(rows.map((d) => ({ id: d.id, status: d.status, name: d.name, nodesDone: d.nodesDone, nodeCount: d.nodeCount, startedAt: d.startedAt, endedAt: d.endedAt })), null, 2));
      return 0;
    }
    if (rows.length === 0) {
      console.log(`no dispatches yet in ${dispatcher.where}`);
      return 0;
    }
    const table = rows.map((d) => [
      d.id,
      d.status,
      d.name,
      `${d.nodesDone}/${d.nodeCount}`,
      d.startedAt ? new Date(d.startedAt).toISOString().replace("T", " ").slice(0, 19) : "-",
      d.startedAt && d.endedAt ? `${((d.endedAt - d.startedAt) / 1000).toFixed(3)}s` : d.startedAt ? "running" : "-",
    ]);
    printTable(["DISPATCH", "STATUS", "LATTICE", "NODES", "STARTED (UTC)", "DURATION"], table);
    return 0;
  },
};

export function printTable(header: string[], rows: string[][]): void {
  process.stdout.write(formatTable(header, rows));
}
