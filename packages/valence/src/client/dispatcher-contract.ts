/** What `dispatch` talks to: the embedded engine or a server's client (both in client/dispatcher.ts). */
import type { DispatchSummary } from "../api/wire.js";
import type { SdkDispatcher } from "../sdk/engine-door.js";
import type { DispatchId } from "../ids.js";
import type { TaskOutput } from "../engine/task-output.js";

/** The SDK's calls, and what the CLI needs besides. */
export interface Dispatcher extends SdkDispatcher {
  /** Recent top-level dispatches, newest first. */
  list(limit: number): Promise<readonly DispatchSummary[]>;
  /** A node's output: live chunks after `after` while it runs, the whole once it has ended (engine/task-output.ts). */
  taskOutput(id: DispatchId, node: number, after?: number): Promise<TaskOutput>;
  /** Where dispatches go: the server's URL, or the embedded store's data dir. */
  readonly where: string;
}
