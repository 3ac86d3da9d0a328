/** `valence`: the SDK. */
export * from "./errors.js";
export type { DispatchId, NodeId, ElectronId } from "./ids.js";
export type { Status } from "./status.js";
