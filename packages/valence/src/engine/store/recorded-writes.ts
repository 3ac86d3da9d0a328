/**
 * Writes recorded now and applied later, in call order: what a driver hands
 * `write`'s `fill` when it cannot apply the writes at once (a network round
 * trip, or another transaction holding the connection).
 */
import type { StoreWrites } from "./store.js";

type Method = keyof StoreWrites;

/** One recorded call: the method's name and its arguments. */
export type WriteOp = { [K in Method]: { readonly method: K; readonly args: Parameters<StoreWrites[K]> } }[Method];

export class RecordedWrites implements StoreWrites {
  readonly ops: WriteOp[] = [];

  insertDispatch(...args: Parameters<StoreWrites["insertDispatch"]>): void {
    this.ops.push({ method: "insertDispatch", args });
  }
  nodeRunning(...args: Parameters<StoreWrites["nodeRunning"]>): void {
    this.ops.push({ method: "nodeRunning", args });
  }
  nodeRetrying(...args: Parameters<StoreWrites["nodeRetrying"]>): void {
    this.ops.push({ method: "nodeRetrying", args });
  }
  nodesCompleted(...args: Parameters<StoreWrites["nodesCompleted"]>): void {
    this.ops.push({ method: "nodesCompleted", args });
  }
  nodeEnded(...args: Parameters<StoreWrites["nodeEnded"]>): void {
    this.ops.push({ method: "nodeEnded", args });
  }
  countDone(...args: Parameters<StoreWrites["countDone"]>): void {
    this.ops.push({ method: "countDone", args });
  }
  dispatchStatus(...args: Parameters<StoreWrites["dispatchStatus"]>): void {
    this.ops.push({ method: "dispatchStatus", args });
  }
  event(...args: Parameters<StoreWrites["event"]>): void {
    this.ops.push({ method: "event", args });
  }
  restoreNodes(...args: Parameters<StoreWrites["restoreNodes"]>): void {
    this.ops.push({ method: "restoreNodes", args });
  }
  insertSources(...args: Parameters<StoreWrites["insertSources"]>): void {
    this.ops.push({ method: "insertSources", args });
  }
  liveOutputAppended(...args: Parameters<StoreWrites["liveOutputAppended"]>): void {
    this.ops.push({ method: "liveOutputAppended", args });
  }
  liveOutputCleared(...args: Parameters<StoreWrites["liveOutputCleared"]>): void {
    this.ops.push({ method: "liveOutputCleared", args });
  }
  deleteDispatch(...args: Parameters<StoreWrites["deleteDispatch"]>): void {
    this.ops.push({ method: "deleteDispatch", args });
  }
  cacheRemoved(...args: Parameters<StoreWrites["cacheRemoved"]>): void {
    this.ops.push({ method: "cacheRemoved", args });
  }
  setOwner(...args: Parameters<StoreWrites["setOwner"]>): void {
    this.ops.push({ method: "setOwner", args });
  }
}

/** Applies recorded writes to a writer that performs them, in order. */
export function replay(ops: readonly WriteOp[], target: StoreWrites): void {
  for (const op of ops) (target[op.method] as (...args: unknown[]) => void).apply(target, op.args);
}
