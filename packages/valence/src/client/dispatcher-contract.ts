/** What `dispatch` talks to: the embedded engine or a server's client (both in client/dispatcher.ts). */
import type { DispatchSummary } from "../api/wire.js";
import type { SdkDispatcher } from "../sdk/engine-door.js";

/** The SDK's calls, and what the CLI needs besides. */
export interface Dispatcher extends SdkDispatcher {
  /** Recent top-level dispatches, newest first. */
  list(limit: number): Promise<readonly DispatchSummary[]>;
  /** Where dispatches go: the server's URL, or the embedded store's data dir. */
  readonly where: string;
}
