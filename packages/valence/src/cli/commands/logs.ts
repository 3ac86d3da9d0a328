import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { serverLogFile } from "../../client/server-file.js";
import { loadConfig } from "../../engine/config/index.js";
import { ServerStateError } from "../../errors.js";
import { parseOrUsage, UsageError, type Command } from "../command.js";

const usage = `valence logs [-f] [-n LINES]

Prints the end of the server's log (DATA_DIR/server.log); -f keeps following it.`;

export const logsCommand: Command = {
  name: "logs",
  summary: "show the server's log (-f to follow)",
  usage,
  async run(argv) {
    const { values } = parseOrUsage(
      { args: argv, options: { follow: { type: "boolean", short: "f" }, lines: { type: "string", short: "n", default: "100" } } },
      usage,
    );
    const lines = Number(values.lines);
    if (!Number.isInteger(lines) || lines < 0) throw new UsageError(`-n must be a whole number of lines, got "${values.lines}"`, usage);
    const file = serverLogFile(loadConfig().dataDir.value);
    if (!existsSync(file)) throw new ServerStateError(`no server log yet at ${file}: has \`valence start\` run on this data dir?`);
    const text = tailLines(file, lines);
    if (text) console.log(text);
    if (!values.follow) return 0;
    let offset = statSync(file).size;
    let stop = false;
    process.once("SIGINT", () => (stop = true));
    while (!stop) {
      await sleep(200);
      const size = statSync(file).size;
      if (size < offset) offset = 0; // rotated or truncated
      if (size > offset) {
        const fd = openSync(file, "r");
        const buf = Buffer.alloc(size - offset);
        readSync(fd, buf, 0, buf.length, offset);
        closeSync(fd);
        process.stdout.write(buf);
        offset = size;
      }
    }
    return 0;
  },
};

/** The last `n` lines of a text file. */
export function tailLines(file: string, n: number): string {
  try {
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    return n === 0 ? "" : lines.slice(-n).join("\n");
  } catch {
    return "";
  }
}
