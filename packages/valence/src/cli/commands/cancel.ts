import { currentDispatcher } from "../../client/dispatcher.js";
import type { DispatchId } from "../../ids.js";
import { parseOrUsage, UsageError, type Command } from "../command.js";

const usage = `valence cancel ID [NODE...]

Cancels a dispatch, or only the given nodes and what depends on them:
pending nodes never start, running tasks are stopped, outputs so far are kept.`;

export const cancelCommand: Command = {
  name: "cancel",
  summary: "cancel a dispatch or some of its nodes",
  usage,
  async run(argv) {
    const { positionals } = parseOrUsage({ args: argv, allowPositionals: true, options: {} }, usage);
    const [id, ...rest] = positionals;
    if (!id) throw new UsageError("expected a dispatch ID", usage);
    const nodes = rest.map((n) => {
      const x = Number(n);
      if (!Number.isInteger(x) || x < 0) throw new UsageError(`node ids are whole numbers, got "${n}"`, usage);
      return x;
    });
    await (await currentDispatcher()).cancel(id as DispatchId, nodes.length ? nodes : undefined);
    console.log(`cancel sent to ${id}${nodes.length ? ` (nodes ${nodes.join(", ")})` : ""}`);
    return 0;
  },
};
