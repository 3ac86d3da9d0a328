import { formatConfig, loadConfig } from "../../engine/config/index.js";
import { UsageError, type Command } from "../command.js";

export const configCommand: Command = {
  name: "config",
  summary: "print the effective config and where each value came from",
  usage: `valence config

Prints the effective configuration: defaults, overlaid by the config file
($VALENCE_CONFIG or ~/.config/valence/valence.toml), overlaid by VALENCE_* variables,
with the origin of every value.`,
  async run(argv) {
    if (argv.length) throw new UsageError(`takes no arguments, got ${argv.join(" ")}`, this.usage);
    process.stdout.write(formatConfig(loadConfig()).replace(/\n?$/, "\n"));
    return 0;
  },
};
