import { Engine } from "../../engine/index.js";
import { formatBytes, parseAge, parseStatuses, planPurge, purge, purgesNothing, purgeSummary, type PurgePlan } from "../../engine/purge.js";
import { parseOrUsage, UsageError, type Command } from "../command.js";

const usage = `valence purge --older-than AGE [--status S,...] [--dry-run]

Removes finished dispatches that ended more than AGE ago (30d, 12h, 90m, 1w):
their nodes, events, logs and results dir, their sublattice runs, and the code
bundles and uploaded values nothing kept still uses. A dispatch that has not
finished is never removed. --status keeps to some final statuses
(COMPLETED, FAILED, CANCELLED). --dry-run says what would go, and how much
space, and changes nothing.`;

export const purgeCommand: Command = {
  name: "purge",
  summary: "remove old finished dispatches and what only they use",
  usage,
  async run(argv) {
    const { values, positionals } = parseOrUsage(
      { args: argv, allowPositionals: true, options: { "older-than": { type: "string" }, status: { type: "string" }, "dry-run": { type: "boolean" } } },
      usage,
    );
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, usage);
    const age = values["older-than"];
    if (age === undefined) throw new UsageError("--older-than AGE is required (such as 30d): purge removes only what is that old", usage);
    let olderThanMs: number;
    let statuses;
    try {
      olderThanMs = parseAge(age);
      statuses = values.status === undefined ? undefined : parseStatuses(values.status);
    } catch (error) {
      throw new UsageError((error as Error).message, usage);
    }
    const engine = await Engine.current();
    const plan = await planPurge(engine.store, { olderThanMs, ...(statuses && { statuses }) });
    const dry = values["dry-run"] === true;
    process.stdout.write(describe(plan, dry));
    if (!dry && !purgesNothing(plan)) await purge(engine.store, plan);
    return 0;
  },
};

function describe(plan: PurgePlan, dry: boolean): string {
  const lines = plan.dispatches.map((d) => {
    const runs = d.tree.length - 1;
    return `${d.id}  ${d.status.padEnd(9)}  ended ${new Date(d.endedAt).toISOString()}  ${d.name}${runs ? ` (+${runs} sublattice runs)` : ""}  ${formatBytes(d.resultsBytes)}`;
  });
  lines.push(`${purgeSummary(plan, dry ? "would remove" : "removed")}${dry ? " (dry run: nothing changed)" : ""}`);
  return `${lines.join("\n")}\n`;
}
