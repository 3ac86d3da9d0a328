import { currentDispatcher } from "../../client/dispatcher.js";
import type { DispatchId } from "../../ids.js";
import { parseOrUsage, UsageError, type Command } from "../command.js";

const usage = `valence redispatch ID [--reuse]

Runs a finished dispatch's graph again, as a new dispatch with the same inputs,
and prints the new id. --reuse keeps the outputs of nodes that completed
(only the rest run). To run electrons with new code, call redispatch() with
replaceElectrons from a script.`;

export const redispatchCommand: Command = {
  name: "redispatch",
  summary: "run a finished dispatch again (--reuse keeps completed outputs)",
  usage,
  async run(argv) {
    const { values, positionals } = parseOrUsage({ args: argv, allowPositionals: true, options: { reuse: { type: "boolean" } } }, usage);
    if (positionals.length !== 1) throw new UsageError("expected one dispatch ID", usage);
    const id = await (await currentDispatcher()).redispatch(positionals[0] as DispatchId, { reusePreviousResults: values.reuse ?? false });
    console.log(id);
    return 0;
  },
};
