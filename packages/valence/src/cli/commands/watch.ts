import { parseOrUsage, UsageError, type Command } from "../command.js";
import { requireServer } from "../server-target.js";
import type { RunChange } from "../../engine/run/run-types.js";

const usage = `valence watch ID

Follows a dispatch on the server live: every node's state change as it is
stored, until the dispatch ends. Exit code 0 if it completed, 1 otherwise.`;

interface Snapshot {
  readonly status: string;
  readonly nodes: ReadonlyArray<{ node: number; name: string; status: string }>;
}

export const watchCommand: Command = {
  name: "watch",
  summary: "follow a dispatch's state changes live",
  usage,
  async run(argv) {
    const { positionals } = parseOrUsage({ args: argv, allowPositionals: true, options: {} }, usage);
    if (positionals.length !== 1) throw new UsageError("expected one dispatch ID", usage);
    const id = positionals[0] as string;
    const client = requireServer("valence watch");
    const names = new Map<number, string>();
    let final = "";
    const stamp = (at: number) => new Date(at).toISOString().slice(11, 23);
    await client.events(id, (e) => {
      if (e.event === "snapshot") {
        const s = e.data as Snapshot;
        for (const n of s.nodes) names.set(n.node, n.name);
        const done = s.nodes.filter((n) => n.status === "COMPLETED").length;
        console.log(`${id} ${s.status}: ${done}/${s.nodes.length} nodes completed`);
        final = s.status;
      } else if (e.event === "change") {
        const c = e.data as RunChange;
        const where = c.dispatchId === id ? "" : ` [sublattice ${c.dispatchId}]`;
        for (const n of c.nodes) console.log(`${stamp(c.at)}  ${names.get(n.node) ?? "node"}(${n.node})${where}  ${n.status}`);
        if (c.status) {
          console.log(`${stamp(c.at)}  dispatch${where}  ${c.status}`);
          if (c.dispatchId === id) final = c.status;
        }
      }
    });
    return final === "COMPLETED" ? 0 : 1;
  },
};
