/**
 * `valence-task TASK_DIR`: runs one task package where a remote executor put
 * it (an SSH host, a Slurm node, a Dask worker) with nothing but `node`.
 * It is built into one self-contained file, `dist/valence-task.mjs`, which
 * remote executors upload next to the bundles.
 *
 * Exit status: 0 when `result.json` was written (whether the task succeeded
 * or threw), 2 for a bad package, 1 for anything else. The process exits as
 * soon as the result is written: the user's module may hold timers or
 * sockets, or wait forever on its own top-level `dispatch`.
 *
 * `valence-task --serve`: stays up and runs many tasks, fed over stdin
 * (serve.ts): the persistent runner of the remote executors.
 *
 * `valence-task --pilot PILOT_DIR [--idle S] [--slots N]`: stays up inside a
 * batch allocation and runs the tasks dropped into PILOT_DIR/inbox (pilot.ts).
 */
import { markTaskRunner } from "../sdk/global-registry.js";
import { parsePilotArgs, pilot } from "./pilot.js";
import { runTaskDir, TaskPackageError } from "./run-task.js";
import { serve } from "./serve.js";
import { recordBaseline } from "./stall-watch.js";

// Importing the bundle must never dispatch again.
markTaskRunner();
// Stack traces and call-site electron ids must name the user's files, not the bundle.
process.setSourceMapsEnabled(true);
recordBaseline();

const USAGE =
  "usage: valence-task TASK_DIR  (a directory holding task.json)\n" +
  "       valence-task --serve  (run lines on stdin, result lines on stdout)\n" +
  "       valence-task --pilot PILOT_DIR [--idle SECONDS] [--slots N]  (run the tasks put in PILOT_DIR/inbox)\n";
const taskDir = process.argv[2];
if (taskDir === "--pilot") {
  let args;
  try {
    args = parsePilotArgs(process.argv.slice(3));
  } catch (error) {
    process.stderr.write(`valence-task: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  pilot(args);
} else if (!taskDir || process.argv.length > 3) {
  process.stderr.write(USAGE);
  process.exit(2);
} else if (taskDir === "--serve") serve();
else runOne(taskDir);

function runOne(taskDir: string): void {
  // A task's promise may rest on unref'd timers or on nothing at all; node would
  // then exit quietly with no result. Hold the loop open until the task
  // settles: a task that never does is ended by its executor's cancel or timeout.
  setInterval(() => {}, 1 << 30);
  runTaskDir(taskDir).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`valence-task: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(error instanceof TaskPackageError ? 2 : 1);
    },
  );
}
