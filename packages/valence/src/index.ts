/**
 * `valence`: the SDK. Write electrons and lattices, dispatch them, read results.
 * Nothing here loads the engine until `dispatch` or `getResult` is called.
 */
import { setDispatcherOpener } from "./sdk/engine-door.js";

// The one arrow from the SDK up to the engine, lazily: a task bundle carries this module, and
// the bundler leaves the import out of it (see ENGINE_DOOR in engine/bundle/bundler.ts).
setDispatcherOpener(() => import("./client/dispatcher.js").then((m) => m.currentDispatcher()));

export { electron } from "./sdk/electron.js";
export type { Electron, ElectronOptions } from "./sdk/electron.js";
export { DepsBash, DepsCall, DepsNpm, FileTransfer } from "./sdk/deps.js";
export { OptionsError } from "./sdk/options.js";
export type { BashDep, CallDep, Dep, FileTransferOptions, NpmDep, TaskSetup } from "./sdk/deps.js";
export type { TransferContext, TransferStrategy } from "./executor/transfer/strategy.js";
export { lattice, wait } from "./sdk/lattice.js";
export type { Lattice, LatticeOptions } from "./sdk/lattice.js";
export { dispatch, dispatchSync, getResult, cancel, redispatch, trigger } from "./sdk/api.js";
export type { TriggerSpec } from "./sdk/trigger-spec.js";
export type { GetResultOptions, RedispatchOptions } from "./sdk/engine-door.js";
export { Result } from "./sdk/result.js";
export type { NodeResult } from "./sdk/result.js";
export type { TransportGraph, GraphNode, GraphEdge, NodeKind } from "./sdk/graph.js";
export * from "./errors.js";
export type { DispatchId, NodeId, ElectronId, TriggerId } from "./ids.js";
export type { Status } from "./status.js";
export { STATUSES } from "./status.js";
