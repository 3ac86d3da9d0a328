import { Engine } from "../../engine/index.js";
import { parseAge, parseStatuses, planPurge, purge, type PurgePlan } from "../../engine/purge.js";
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
    if (!dry && plan.dispatchIds.length + plan.bundles.length + plan.blobs.length > 0) await purge(engine.store, plan);
    return 0;
  },
};

function describe(plan: PurgePlan, dry: boolean): string {
  const verb = dry ? "would remove" : "removed";
  const lines = plan.dispatches.map(
    (d) => `${d.id}  ${d.status.padEnd(9)}  ended ${new Date(d.endedAt).toISOString()}  ${d.name}${d.children ? ` (+${d.children} sublattice runs)` : ""}  ${bytes(d.resultsBytes)}`,
  );
  const top = plan.dispatches.length;
  lines.push(
    `${verb} ${top} dispatch${top === 1 ? "" : "es"} (${plan.dispatchIds.length} with sublattice runs), ` +
      `${plan.bundles.length} unused bundle file${plan.bundles.length === 1 ? "" : "s"}, ${plan.blobs.length} uploaded value${plan.blobs.length === 1 ? "" : "s"}: ` +
      `${bytes(plan.bytes)} on disk${dry ? " (dry run: nothing changed)" : ""}`,
  );
  return `${lines.join("\n")}\n`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
