/**
 * `valence-task --serve`: a persistent task runner. It reads run lines on
 * stdin and answers with result lines on stdout (serve-protocol.ts), so a
 * host pays node's start and the bundle's import once, not once per task.
 *
 * Only protocol lines may reach stdout: the module's top-level output and
 * anything written outside a task go to stderr instead (a task's own output
 * is captured into its result, as always).
 */
import { createInterface } from "node:readline";
import { resolve } from "node:path";
import { checkTaskFile, runTask, TaskPackageError } from "./run-task.js";
import { outputLine, readyLine, resultLine, type RunLine } from "../executor/wire/serve-protocol.js";
import type { OutputStream } from "../executor/capture.js";

export function serve(): void {
  const protocol = process.stdout.write.bind(process.stdout) as (chunk: string) => boolean;
  // Before the capture patch wraps it: whatever is not a task's output nor a protocol line goes to stderr.
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on("line", (line) => {
    if (line.trim() === "") return;
    let run: RunLine;
    try {
      run = parseRunLine(line);
    } catch (error) {
      process.stderr.write(`valence-task --serve: ignored a line: ${(error as Error).message}\n`);
      return;
    }
    // The task's output also goes to the side while it runs, so it can be followed before the result.
    const live = (stream: OutputStream, text: string) => void protocol(outputLine(run.id, stream, text));
    void runTask(run.task, resolve(run.bundle), live).then(
      (result) => protocol(resultLine(run.id, JSON.stringify(result))),
      (error: unknown) => process.stderr.write(`valence-task --serve: task ${run.id} failed in the runner: ${String(error)}\n`),
    );
  });
  // The side went away (or is done with us): nothing we run could report anywhere.
  lines.on("close", () => process.exit(0));
  protocol(readyLine(process.pid));
}

function parseRunLine(line: string): RunLine {
  let parsed: Partial<RunLine>;
  try {
    parsed = JSON.parse(line) as Partial<RunLine>;
  } catch (error) {
    throw new TaskPackageError(`not JSON (${(error as Error).message}): ${line.slice(0, 80)}`);
  }
  if (parsed.t !== "run") throw new TaskPackageError(`"t" must be "run", got ${JSON.stringify(parsed.t)}`);
  if (typeof parsed.id !== "string" || typeof parsed.bundle !== "string") throw new TaskPackageError(`a run line needs string "id" and "bundle"`);
  return { t: "run", id: parsed.id, bundle: parsed.bundle, task: checkTaskFile(parsed.task ?? {}, `the task of run ${parsed.id}`) };
}
