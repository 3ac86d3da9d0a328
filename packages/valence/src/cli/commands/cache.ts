import { formatTable } from "../table.js";
import { Engine } from "../../engine/index.js";
import { clearCache, findCacheEntries, isExpired, type CacheFilter } from "../../engine/cache-entries.js";
import type { CacheEntry } from "../../engine/store/store.js";
import { parseOrUsage, UsageError, type Command } from "../command.js";

const usage = `valence cache ls [--electron NAME] [--json]
valence cache clear [--electron NAME] [--expired]

The results kept for electrons with \`cache: true\`: a task whose code and
inputs a completed run has seen reuses that run's output. ls lists the
entries (key, electron, the dispatch and node that made the result, when, until
when, how often reused); clear removes entries, so those tasks run again (the
dispatches keep their results). --electron keeps to one electron by name,
--expired to entries whose ttl has run out.`;

export const cacheCommand: Command = {
  name: "cache",
  summary: "list or clear the results reused across dispatches",
  usage,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub !== "ls" && sub !== "clear") {
      throw new UsageError(sub === undefined ? "say what to do: valence cache ls, or valence cache clear" : `unknown cache command ${JSON.stringify(sub)}: use ls or clear`, usage);
    }
    const { values, positionals } = parseOrUsage(
      {
        args: rest,
        allowPositionals: true,
        options: sub === "ls" ? { electron: { type: "string" }, json: { type: "boolean" } } : { electron: { type: "string" }, expired: { type: "boolean" } },
      },
      usage,
    );
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, usage);
    const v = values as { electron?: string; json?: boolean; expired?: boolean };
    const filter: CacheFilter = { electron: v.electron, expired: v.expired };
    const engine = await Engine.current();
    const now = Date.now();
    if (sub === "clear") {
      const n = await clearCache(engine.store, filter, now);
      process.stdout.write(`removed ${n} cache ${n === 1 ? "entry" : "entries"}\n`);
      return 0;
    }
    const entries = await findCacheEntries(engine.store, filter, now);
    process.stdout.write(v.json ? `${JSON.stringify(entries, null, 2)}\n` : table(entries, now));
    return 0;
  },
};

function table(entries: readonly CacheEntry[], now: number): string {
  if (!entries.length) return "no cached results\n";
  const rows = entries.map((e) => [
    e.key.slice(0, 12),
    e.electron,
    `${e.dispatchId}/${e.nodeId}`,
    new Date(e.createdAt).toISOString(),
    e.expiresAt === null ? "never" : `${isExpired(e, now) ? "expired " : ""}${new Date(e.expiresAt).toISOString()}`,
    String(e.hits),
  ]);
  return formatTable(["KEY", "ELECTRON", "MADE BY (DISPATCH/NODE)", "CREATED", "EXPIRES", "HITS"], rows);
}
