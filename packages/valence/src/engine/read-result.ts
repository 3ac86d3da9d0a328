/**
 * Reads a dispatch from the store into the SDK's `Result`.
 */
import { decode } from "../codec/index.js";
import { DispatchNotFoundError } from "../errors.js";
import { asNodeId, type DispatchId } from "../ids.js";
import { Result, type NodeResult } from "../sdk/result.js";
import { readOutputs } from "./store/read-outputs.js";
import type { Store } from "./store/store.js";
import type { DispatchRecord, NodeRecord } from "./store/records.js";

const date = (ms: number | null) => (ms === null ? undefined : new Date(ms));

export async function readDispatch(store: Store, id: string): Promise<DispatchRecord> {
  const d = await store.getDispatch(id);
  if (!d) throw new DispatchNotFoundError(id, store.dataDir);
  return d;
}

/** The full result; with `statusOnly`, without inputs, outputs and nodes (cheap to poll). */
export async function readResult<T>(store: Store, id: DispatchId, statusOnly = false): Promise<Result<T>> {
  const d = await readDispatch(store, id);
  if (statusOnly) return resultFromRecords<T>(d, () => [], undefined, true);
  const local = store.inProcess;
  if (local) return resultFromRecords<T>(d, () => local.getNodes(id), (n) => local.readOutput(n));
  // Across a network: read now, decoded only when the nodes are looked at.
  const rows = await store.getNodes(id);
  return resultFromRecords<T>(d, () => rows, await readOutputs(store, rows));
}

/**
 * The SDK's `Result` from store records, wherever they came from: this
 * process's store, or a server's answer (whose nodes carry their outputs inline).
 */
export function resultFromRecords<T>(
  d: DispatchRecord,
  nodes: () => readonly NodeRecord[],
  readOutput: (n: NodeRecord) => string | null = (n) => n.output,
  statusOnly = false,
): Result<T> {
  return new Result<T>({
    dispatchId: d.id,
    latticeName: d.name,
    status: d.status,
    result: !statusOnly && d.output !== null ? (decode(d.output) as T) : undefined,
    inputs: statusOnly ? { args: [], kwargs: {} } : { args: decode(d.inputs) as unknown[], kwargs: {} },
    error: d.error !== null ? (decode(d.error) as Error) : undefined,
    startTime: date(d.startedAt),
    endTime: date(d.endedAt),
    resultsDir: d.resultsDir,
    loadNodes: () => (statusOnly ? [] : nodes().map((n) => nodeResult(n, readOutput(n)))),
    nodesDone: d.nodesDone,
    nodeCount: d.nodeCount,
  });
}

function nodeResult(n: NodeRecord, encoded: string | null): NodeResult {
  let executor: string | undefined;
  if (n.executor) {
    const parsed = JSON.parse(n.executor) as string | { plugin: string };
    executor = typeof parsed === "string" ? parsed : parsed.plugin;
  }
  return {
    nodeId: asNodeId(n.nodeId),
    name: n.name,
    kind: n.kind,
    status: n.status,
    output: encoded === null ? undefined : decode(encoded),
    stdout: n.stdout ?? "",
    stderr: n.stderr ?? "",
    error: n.error === null ? undefined : (decode(n.error) as Error),
    executor,
    attempts: n.attempts,
    retryAt: date(n.retryAt),
    cachedFrom: n.cachedFrom ? { dispatchId: n.cachedFrom.dispatchId, nodeId: asNodeId(n.cachedFrom.nodeId) } : undefined,
    startTime: date(n.startedAt),
    endTime: date(n.endedAt),
  };
}
