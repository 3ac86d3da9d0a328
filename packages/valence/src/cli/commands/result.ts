import { currentDispatcher } from "../../client/dispatcher.js";
import type { DispatchId } from "../../ids.js";
import { parseOrUsage, UsageError, type Command } from "../command.js";

const usage = `valence result ID [--wait] [--json]

Prints a dispatch's Result as Covalent does ("Lattice Result … Node Outputs"),
or as JSON with --json. --wait waits until it finished.`;

export const resultCommand: Command = {
  name: "result",
  summary: "print a dispatch's result",
  usage,
  async run(argv) {
    const { values, positionals } = parseOrUsage({ args: argv, allowPositionals: true, options: { json: { type: "boolean" }, wait: { type: "boolean" } } }, usage);
    if (positionals.length !== 1) throw new UsageError("expected one dispatch ID", usage);
    const result = await (await currentDispatcher()).getResult(positionals[0] as DispatchId, { wait: values.wait ?? false });
    if (!values.json) {
      process.stdout.write(result.toString());
      return 0;
    }
    const err = (e: Error | undefined) => (e ? { name: e.name, message: e.message, stack: e.stack } : null);
    const json = {
      dispatchId: result.dispatchId,
      lattice: result.latticeName,
      status: result.status,
      result: result.result,
      inputs: result.inputs,
      error: err(result.error),
      startTime: result.startTime,
      endTime: result.endTime,
      resultsDir: result.resultsDir,
      nodes: result.nodes.map((n) => ({ ...n, error: err(n.error) })),
    };
    console.log(JSON.stringify(json, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2));
    return 0;
  },
};
