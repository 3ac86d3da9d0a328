import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { Engine } from "../../engine/index.js";
import { dispatchOwnerGone } from "../../engine/locks/owner-lock.js";
import { readResult } from "../../engine/read-result.js";
import { isDispatchId, type DispatchId } from "../../ids.js";
import { markTaskRunner } from "../../sdk/global-registry.js";
import { parseOrUsage, UsageError, type Command } from "../command.js";

const usage = `valence resume ID... | --all

Runs unfinished dispatches whose process is gone (a script that was killed
while it ran them embedded) to the end, here, and prints each Result.
Completed nodes keep their outputs and are not run again; nodes that were
running when the process died run again. A dispatch a live process still runs
is refused. --all resumes every such dispatch in the data dir. (A server
resumes its own dispatches when it starts again: \`valence start\`.)
Exit code 0 when every one completed, 1 otherwise.`;

export const resumeCommand: Command = {
  name: "resume",
  summary: "finish dispatches whose process was killed",
  usage,
  async run(argv) {
    const { values, positionals } = parseOrUsage({ args: argv, allowPositionals: true, options: { all: { type: "boolean" } } }, usage);
    if (values.all && positionals.length) throw new UsageError("give dispatch IDs or --all, not both", usage);
    const bad = positionals.filter((p) => !isDispatchId(p));
    if (bad.length) throw new UsageError(`not a dispatch id: ${bad.join(", ")} (ids look like dsp_…)`, usage);
    // The dispatches' bundles load here: their top-level `dispatch(...)` must not run again.
    markTaskRunner();
    const engine = await Engine.current();
    const ids = values.all
      ? (await engine.store.unfinishedDispatches())
          .filter((d) => d.parentId === null && dispatchOwnerGone(engine.dataDir, d, hostname()))
          .map((d) => d.id)
      : (positionals as DispatchId[]);
    if (!ids.length) {
      if (values.all) console.log("nothing to resume: no unfinished dispatch has lost its process");
      else throw new UsageError("expected dispatch IDs, or --all", usage);
      return 0;
    }
    let allCompleted = true;
    // One at a time: each runs in the directory it was dispatched from, so relative paths mean what they meant.
    for (const id of ids) {
      const cwd = (await engine.store.getDispatch(id))?.cwd;
      if (cwd && existsSync(cwd)) process.chdir(cwd);
      const run = await engine.resume(id, { importBundles: true });
      await run.done;
      await run.closed;
      const result = await readResult(engine.store, id);
      if (result.status !== "COMPLETED") allCompleted = false;
      process.stdout.write(result.toString());
    }
    return allCompleted ? 0 : 1;
  },
};
