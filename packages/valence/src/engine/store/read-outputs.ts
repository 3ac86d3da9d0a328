/**
 * Nodes' outputs for a whole dispatch at once: most sit in their rows, and
 * only those kept elsewhere (large ones) cost the store a read each.
 */
import type { NodeRecord } from "./records.js";
import type { Store } from "./store.js";

/** A lookup of each node's encoded output (null when it has none), after reading the large ones. */
export async function readOutputs(store: Store, rows: readonly NodeRecord[]): Promise<(n: Pick<NodeRecord, "nodeId" | "output">) => string | null> {
  const held = new Map<number, string | null>();
  for (const n of rows) if (n.output === null && n.outputFile !== null) held.set(n.nodeId, await store.readOutput(n));
  return (n) => n.output ?? held.get(n.nodeId) ?? null;
}
