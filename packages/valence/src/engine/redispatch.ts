/**
 * Redispatch: a new dispatch of a stored graph, run again. With
 * `reusePreviousResults`, every node that completed before and whose inputs
 * cannot have changed keeps its output and does not run. Replaced electrons
 * run their new code (from their own bundle), and everything downstream of
 * them runs again, since its inputs may now differ.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ValenceError } from "../errors.js";
import { newDispatchId, type DispatchId } from "../ids.js";
import { isTerminal } from "../status.js";
import type { NodeRecord } from "./store/records.js";
import { readOutputs } from "./store/read-outputs.js";
import type { Store } from "./store/store.js";
import { readDispatch } from "./read-result.js";

/** New code for every node of the electron named `name`. */
export interface Replacement {
  /** The name of the electron to replace, as shown in the graph (`add`). */
  readonly name: string;
  readonly electronId: string;
  /** Where the new code lives (its own bundle); null: in this process or the dispatch's bundle. */
  readonly bundlePath: string | null;
  /** JSON executor of the replacement, or null to keep each node's. */
  readonly executor: string | null;
  /** Its source text, for the dashboard. */
  readonly source?: string | undefined;
}

export interface RedispatchPlan {
  readonly reusePreviousResults?: boolean | undefined;
  readonly replacements?: readonly Replacement[] | undefined;
}

export class RedispatchError extends ValenceError {
  override readonly code = "REDISPATCH";
}

/** Stores the new dispatch (nothing runs yet) and returns its id. */
export async function storeRedispatch(store: Store, fromId: DispatchId, plan: RedispatchPlan): Promise<DispatchId> {
  const old = await readDispatch(store, fromId);
  if (old.parentId) throw new RedispatchError(`dispatch ${fromId} is a sublattice run; redispatch its parent ${old.parentId}`);
  if (!isTerminal(old.status)) throw new RedispatchError(`dispatch ${fromId} is still ${old.status}; redispatch it once it has finished (or cancel it first)`);
  const rows = await store.getNodes(fromId);
  const edges = await store.getEdges(fromId);
  const byName = new Map<string, Replacement>();
  for (const r of plan.replacements ?? []) {
    if (!rows.some((n) => n.kind === "electron" && n.name === r.name)) {
      const names = [...new Set(rows.filter((n) => n.kind === "electron").map((n) => n.name))].sort();
      throw new RedispatchError(`dispatch ${fromId} has no electron named "${r.name}" to replace; its electrons are: ${names.join(", ")}`);
    }
    const clash = rows.find((n) => n.electronId === r.electronId);
    if (clash) {
      throw new RedispatchError(
        `the replacement for "${r.name}" is defined at the same place as "${clash.name}" in dispatch ${fromId} (${r.electronId}): ` +
          "define the new implementation as a new electron (for example in the script that redispatches), so both can be told apart",
      );
    }
    byName.set(r.name, r);
  }

  // Dirty: replaced, or fed by something dirty. Node ids are in creation order, so parents come first.
  const dirty = new Uint8Array(rows.length);
  const parents: number[][] = rows.map(() => []);
  for (const e of edges) (parents[e.target] as number[]).push(e.source);
  for (const n of rows) {
    if (byName.has(n.name) && n.kind === "electron") dirty[n.nodeId] = 1;
    else if ((parents[n.nodeId] as number[]).some((p) => dirty[p])) dirty[n.nodeId] = 1;
  }

  const id = newDispatchId();
  const resultsDir = join(store.dataDir, "results", id);
  mkdirSync(resultsDir, { recursive: true });
  const reuse = plan.reusePreviousResults ?? false;
  const outputOf = await readOutputs(store, rows);
  const sources = await store.getSources(fromId);
  const nodes: NodeRecord[] = rows.map((n) => {
    const replacement = n.kind === "electron" ? byName.get(n.name) : undefined;
    const keep = n.kind === "parameter" || (reuse && !dirty[n.nodeId] && n.status === "COMPLETED");
    const base: NodeRecord = {
      ...n,
      electronId: replacement ? replacement.electronId : n.electronId,
      executor: replacement?.executor ?? n.executor,
      bundlePath: replacement ? replacement.bundlePath : n.bundlePath,
      status: keep ? "COMPLETED" : "NEW_OBJECT",
      error: null,
      attempts: keep ? n.attempts : 0,
      retryAt: null,
    };
    if (keep) {
      // Outputs kept in files are read back into the row: the new dispatch must not depend on the old one's files.
      return { ...base, output: outputOf(n), outputFile: null };
    }
    return { ...base, output: null, outputFile: null, stdout: null, stderr: null, startedAt: null, endedAt: null };
  });
  const kept = nodes.filter((n, i) => n.kind !== "parameter" && n.status === "COMPLETED" && rows[i]?.status === "COMPLETED");
  // One transaction: a crash in between must not leave a half-copied dispatch.
  await store.write((w) => {
    w.insertDispatch(
      {
        ...old,
        id,
        status: "NEW_OBJECT",
        output: null,
        error: null,
        createdAt: Date.now(),
        startedAt: null,
        endedAt: null,
        resultsDir,
        ownerPid: null,
        ownerHost: null,
        ownerLock: null,
        nodesDone: nodes.filter((n) => n.status === "COMPLETED").length,
      },
      nodes,
      edges,
    );
    w.restoreNodes(id, kept);
    w.insertSources(id, { ...sources, ...Object.fromEntries((plan.replacements ?? []).flatMap((r) => (r.source ? [[r.electronId, r.source]] : []))) });
    w.event(id, null, "redispatched", `from ${fromId}${reuse ? ", reusing previous results" : ""}`, null, Date.now());
  });
  return id;
}
