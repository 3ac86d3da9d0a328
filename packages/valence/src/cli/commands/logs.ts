import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { currentDispatcher } from "../../client/dispatcher.js";
import { serverLogFile } from "../../client/server-file.js";
import type { DispatchId } from "../../ids.js";
import { loadConfig } from "../../engine/config/index.js";
import { ServerStateError } from "../../errors.js";
import { parseOrUsage, UsageError, type Command } from "../command.js";
import type { OutputStream } from "../../executor/capture.js";
import { CUT_MARKER_START } from "../../engine/run/live-output.js";

const usage = `valence logs [-f] [-n LINES]
valence logs DISPATCH NODE [-f]

Prints the end of the server's log (DATA_DIR/server.log); -f keeps following it.
With a dispatch id and a node id: that task's stdout and stderr (its stderr to
stderr), what it has printed so far while it runs; -f follows it until it ends.`;

export const logsCommand: Command = {
  name: "logs",
  summary: "show the server's log, or a task's output (-f to follow)",
  usage,
  async run(argv) {
    const { values, positionals } = parseOrUsage(
      { args: argv, allowPositionals: true, options: { follow: { type: "boolean", short: "f" }, lines: { type: "string", short: "n", default: "100" } } },
      usage,
    );
    if (positionals.length > 0) {
      if (positionals.length !== 2) throw new UsageError("expected a dispatch id and a node id, or neither (the server's log)", usage);
      const node = Number(positionals[1]);
      if (!Number.isInteger(node) || node < 0) throw new UsageError(`NODE must be a node id (a whole number), got "${positionals[1]}"`, usage);
      return taskLogs(positionals[0] as DispatchId, node, values.follow ?? false);
    }
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

/**
 * Prints a task's output; with `follow`, polls for new chunks until the node
 * ends. The chunks are the start of the attempt's whole output, so at the end
 * only what was not printed yet is; a stream already cut at output_limit
 * prints nothing more (its marker was printed). A retry starts the output
 * again: a line on stderr says so.
 */
async function taskLogs(id: DispatchId, node: number, follow: boolean): Promise<number> {
  const dispatcher = await currentDispatcher();
  /** What was printed of the current attempt, per stream. */
  let printed = { stdout: "", stderr: "" };
  const write = (stream: OutputStream, text: string) => {
    if (!text) return;
    (stream === "stdout" ? process.stdout : process.stderr).write(text);
    printed[stream] += text;
  };
  let after = 0;
  let attempt: number | undefined;
  let stop = false;
  process.once("SIGINT", () => (stop = true));
  for (;;) {
    const out = await dispatcher.taskOutput(id, node, after);
    if (attempt !== undefined && out.attempt !== attempt && (printed.stdout || printed.stderr)) {
      process.stderr.write(`\n[valence: node ${node} was retried (attempt ${out.attempt}); its output starts again]\n`);
      printed = { stdout: "", stderr: "" };
    }
    attempt = out.attempt;
    if (out.ended) {
      write("stdout", restOf(out.stdout ?? "", printed.stdout));
      write("stderr", restOf(out.stderr ?? "", printed.stderr));
      return 0;
    }
    for (const c of out.chunks) write(c.stream, c.text);
    after = out.next;
    if (!follow || stop) return 0;
    await sleep(FOLLOW_MS);
  }
}

/** What of the final output `whole` is still to print after `printed` (the live chunks). */
export function restOf(whole: string, printed: string): string {
  if (whole.startsWith(printed)) return whole.slice(printed.length);
  // Cut at the limit: the live copy ended with its own marker, and the final marker would repeat it.
  if (printed.includes(CUT_MARKER_START)) return "";
  // The live copy and the final output differ (it should not happen): the final one is the truth.
  return `\n[valence: the task's final output follows]\n${whole}`;
}

/** How often `-f` asks for a running task's new output. */
const FOLLOW_MS = 300;

/** The last `n` lines of a text file. */
export function tailLines(file: string, n: number): string {
  try {
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    return n === 0 ? "" : lines.slice(-n).join("\n");
  } catch {
    return "";
  }
}
