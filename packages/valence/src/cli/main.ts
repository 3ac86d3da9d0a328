/**
 * `valence` CLI entry. Commands return exit codes; only `main` exits, and it
 * turns errors into one line that says what to fix (stack with VALENCE_DEBUG=1).
 */
import { readFileSync } from "node:fs";
import { ValenceError } from "../errors.js";
import { UsageError, wantsHelp, type Command } from "./command.js";
import { configCommand } from "./commands/config.js";
import { executorsCommand } from "./commands/executors.js";
import { listCommand } from "./commands/list.js";
import { newCommand } from "./commands/new.js";
import { resultCommand } from "./commands/result.js";
import { runCommand } from "./commands/run.js";
import { resumeCommand } from "./commands/resume.js";
import { purgeCommand } from "./commands/purge.js";
import { cacheCommand } from "./commands/cache.js";
import { cancelCommand } from "./commands/cancel.js";
import { redispatchCommand } from "./commands/redispatch.js";
import { logsCommand } from "./commands/logs.js";
import { migrateCommand } from "./commands/migrate.js";
import { startCommand } from "./commands/start.js";
import { statusCommand } from "./commands/status.js";
import { stopCommand } from "./commands/stop.js";
import { watchCommand } from "./commands/watch.js";
import { triggersCommand } from "./commands/triggers.js";

const COMMANDS: readonly Command[] = [
  runCommand,
  listCommand,
  resultCommand,
  cancelCommand,
  redispatchCommand,
  resumeCommand,
  purgeCommand,
  cacheCommand,
  triggersCommand,
  watchCommand,
  startCommand,
  stopCommand,
  statusCommand,
  migrateCommand,
  logsCommand,
  executorsCommand,
  configCommand,
  newCommand,
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "valence: workflow orchestration for TypeScript",
    "",
    "Usage: valence COMMAND [options]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `valence COMMAND --help` for a command's options.",
  ].join("\n");
}

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(help());
    return name ? 0 : 1;
  }
  if (name === "--version" || name === "-v") {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    console.log(pkg.version);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`valence: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (command.name !== "run" ? wantsHelp(rest) : wantsHelp(rest.slice(0, 1))) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`valence ${command.name}: ${error.message}\n\n${error.usage}`);
      return 2;
    }
    const e = error as Error;
    const label = error instanceof ValenceError ? `${e.name} [${error.code}]` : e.name || "Error";
    console.error(process.env.VALENCE_DEBUG ? e.stack : `valence ${command.name}: ${label}: ${e.message}`);
    return 1;
  }
}

export async function main(): Promise<void> {
  // `valence list | head`: a reader that stops early is not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  const code = await runCli(process.argv.slice(2));
  // Let pending output flush; the event loop may still hold finished pools briefly.
  process.exitCode = code;
}
