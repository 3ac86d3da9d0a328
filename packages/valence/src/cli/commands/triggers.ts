import { formatTable } from "../table.js";
import type { TriggerReply, TriggerSummary } from "../../api/wire.js";
import { ServerDispatcher } from "../../client/server-dispatcher.js";
import { BUILTIN_EXECUTORS } from "../../engine/engine.js";
import { loadConfig } from "../../engine/config/index.js";
import { createRegistry } from "../../engine/plugins/registry.js";
import type { TriggerSpec } from "../../sdk/trigger-spec.js";
import { parseOrUsage, UsageError, type Command } from "../command.js";
import { loadLattice } from "../load-lattice.js";
import { requireServer } from "../server-target.js";

const usage = `valence triggers add FILE [--lattice NAME] (--watch DIR | --every DURATION | --cron EXPR [--timezone TZ])
valence triggers ls
valence triggers show ID
valence triggers pause ID
valence triggers resume ID
valence triggers rm ID

Triggers live in the server (valence start) and dispatch a lattice of FILE (its only
one, or NAME):
  --watch DIR       for each new or changed file under DIR (not hidden ones, not those
                    there before), with the file's absolute path; a file fires once its
                    writes have finished
  --every DURATION  every 30s, 5m, 1h, 1d..., with the tick's time (ISO string)
  --cron EXPR       on a cron schedule (croner: "*/5 * * * *"), with the tick's time;
                    --timezone an IANA zone (default: the server's)
A lattice that declares no parameter is dispatched with none. Ticks missed while the
server was down fire once, as soon as it is back (the latest of them); files changed
while it was down fire then too. A paused trigger does not catch up when resumed.
show lists the trigger's dispatches; rm keeps them.`;

export const triggersCommand: Command = {
  name: "triggers",
  summary: "dispatch a lattice on new files, an interval or a cron schedule (add, ls, show, pause, resume, rm)",
  usage,
  async run(argv) {
    const [sub, ...rest] = argv;
    switch (sub) {
      case "add":
        return add(rest);
      case "ls":
      case "list":
        return list(rest);
      case "show":
      case "pause":
      case "resume":
      case "rm": {
        if (rest.length !== 1) throw new UsageError(`expected one trigger ID after "${sub}"`, usage);
        const id = rest[0] as string;
        const client = requireServer(`valence triggers ${sub}`);
        if (sub === "rm") {
          await client.removeTrigger(id);
          console.log(`removed ${id} (its dispatches stay)`);
          return 0;
        }
        const reply = sub === "show" ? await client.trigger(id) : await client.pauseTrigger(id, sub === "pause");
        process.stdout.write(sub === "show" ? details(reply) : `${id} ${reply.trigger.paused ? "paused" : "running"}\n`);
        return 0;
      }
      default:
        throw new UsageError(sub ? `unknown subcommand "${sub}"` : "missing subcommand", usage);
    }
  },
};

async function add(argv: string[]): Promise<number> {
  const { values, positionals } = parseOrUsage(
    {
      args: argv,
      allowPositionals: true,
      options: { lattice: { type: "string" }, watch: { type: "string" }, every: { type: "string" }, cron: { type: "string" }, timezone: { type: "string" } },
    },
    usage,
  );
  if (positionals.length !== 1) throw new UsageError("expected one FILE (the module that defines the lattice)", usage);
  const given = (["watch", "every", "cron"] as const).filter((k) => values[k] !== undefined);
  if (given.length !== 1) throw new UsageError(`give one of --watch, --every and --cron${given.length ? `, not ${given.map((g) => `--${g}`).join(" and ")}` : ""}`, usage);
  if (values.timezone !== undefined && values.cron === undefined) throw new UsageError("--timezone goes with --cron", usage);
  const spec: TriggerSpec =
    values.watch !== undefined
      ? { watch: values.watch }
      : values.every !== undefined
        ? { every: values.every }
        : { cron: values.cron as string, ...(values.timezone !== undefined && { timezone: values.timezone }) };
  const client = requireServer("valence triggers add");
  const info = await loadLattice(positionals[0] as string, values.lattice);
  const config = loadConfig();
  const dispatcher = new ServerDispatcher(client, config, await createRegistry({ config, builtins: BUILTIN_EXECUTORS }));
  console.log(await dispatcher.trigger(info, spec));
  return 0;
}

async function list(argv: string[]): Promise<number> {
  if (argv.length) throw new UsageError(`unexpected argument ${JSON.stringify(argv[0])}`, usage);
  const { triggers } = await requireServer("valence triggers ls").triggers();
  if (!triggers.length) {
    console.log("no triggers (add one with `valence triggers add FILE --watch DIR | --every 30s | --cron EXPR`)");
    return 0;
  }
  const rows = triggers.map((t) => [t.id, t.kind, spec(t), t.latticeName, t.paused ? "paused" : "running", time(t.lastFireAt), time(t.nextFireAt)]);
  process.stdout.write(formatTable(["ID", "KIND", "SPEC", "LATTICE", "STATE", "LAST FIRE", "NEXT FIRE"], rows));
  return 0;
}

function details(r: TriggerReply): string {
  const t = r.trigger;
  const head = [
    `${t.id}  ${t.kind} ${spec(t)}  →  ${t.latticeName}  (${t.paused ? "paused" : "running"})`,
    `created ${time(t.createdAt)}, last fire ${time(t.lastFireAt)}, next fire ${time(t.nextFireAt)}`,
    "",
  ];
  if (!r.fires.length) return `${head.join("\n")}no dispatches yet\n`;
  // A watch's key is `mtimeMs:path`: the path is what a reader wants.
  const what = (key: string) => (t.kind === "watch" ? key.slice(key.indexOf(":") + 1) : key);
  const rows = r.fires.map((f) => [f.dispatchId, f.status ?? "(deleted)", time(f.at), what(f.key)]);
  return `${head.join("\n")}${formatTable(["DISPATCH", "STATUS", "FIRED", "FOR"], rows)}`;
}

const spec = (t: TriggerSummary) => (t.timezone ? `${t.spec} (${t.timezone})` : t.spec);
const time = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());

