import { readServerInfo } from "../../client/server-file.js";
import { loadConfig } from "../../engine/config/index.js";
import { parseOrUsage, type Command } from "../command.js";
import { serverClient } from "../server-target.js";

const usage = `valence status

Whether the server runs, where, since when, and how many dispatches it is
running. Exit code 0 when it runs, 3 when it does not.`;

export const statusCommand: Command = {
  name: "status",
  summary: "is the server running, where, since when",
  usage,
  async run(argv) {
    parseOrUsage({ args: argv, options: {} }, usage);
    const config = loadConfig();
    const client = serverClient();
    if (!client) {
      console.log(`Valence server: not running (data dir ${config.dataDir.value}); dispatches run embedded`);
      return 3;
    }
    const health = await client.health();
    const info = readServerInfo(config.dataDir.value);
    const since = new Date(health.startedAt);
    console.log(
      [
        `Valence server: running at ${client.url} (pid ${health.pid}, version ${health.version})`,
        `  since:      ${since.toISOString().replace("T", " ").slice(0, 19)} UTC (${ago(Date.now() - health.startedAt)})`,
        `  running:    ${health.running} dispatch${health.running === 1 ? "" : "es"}`,
        `  data dir:   ${health.dataDir}`,
        ...(health.store ? [`  store:      ${health.store}`] : []),
        ...(health.team ? [`  team:       ${health.team.join(", ")}`] : []),
        ...(info ? [`  log:        ${health.dataDir}/server.log`] : []),
      ].join("\n"),
    );
    return 0;
  },
};

function ago(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago`;
}
