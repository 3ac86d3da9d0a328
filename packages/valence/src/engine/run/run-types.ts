/** The shapes a dispatch run is built from and settles with. */
import type { TaskSetup } from "../../executor/task-setup.js";
import type { Executor } from "../../executor/executor.js";
import type { TaskFunction } from "../../executor/task.js";
import type { DispatchId } from "../../ids.js";
import type { Status } from "../../status.js";
import type { GraphEdge, GraphNode, OutputTemplate } from "../../sdk/graph.js";
import type { FinalStatus, NodeState } from "../scheduler/transitions.js";
import type { Store } from "../store/store.js";
import type { ExecutorLeases } from "./executor-leases.js";
import type { LazyAbort } from "./lazy-abort.js";
import type { RunObserver } from "../observe/observation.js";

/** A node ready to run: its graph data plus what the engine resolved for it. */
export interface PreparedNode {
  readonly spec: GraphNode;
  readonly executor: Executor | undefined;
  /** Concurrency pool key: one per executor instance; "$builtin" for accessor/collection nodes. */
  readonly pool: string;
  readonly fn: TaskFunction | undefined;
  /** The electron's deps, calls and files, for executors that move files themselves (remote ones). */
  readonly setup: TaskSetup | undefined;
  /** The bundle the electron comes from when not the dispatch's (a replaced electron). */
  readonly bundlePath?: string | undefined;
}

/** A node whose failed try waits out its retry backoff: tries made so far, and when the next is due (ms since the epoch). */
export interface WaitingNode {
  readonly attempts: number;
  readonly retryAt: number;
}

/** Runs a sublattice node as a child dispatch and returns its output. */
export type ChildRunner = (
  /** The run of the sublattice node (a DispatchRun): only its id is needed. */
  parent: { readonly id: DispatchId },
  node: PreparedNode,
  args: unknown[],
  abort: LazyAbort,
) => Promise<{ ok: true; value: unknown } | { ok: false; error: Error }>;

export interface DispatchRunInit {
  readonly id: DispatchId;
  readonly store: Store;
  readonly resultsDir: string;
  readonly bundlePath: string | undefined;
  readonly nodes: readonly PreparedNode[];
  readonly edges: readonly GraphEdge[];
  readonly output: OutputTemplate;
  readonly limits: Readonly<Record<string, number>>;
  /** Settled states (parameters are COMPLETED from the start; resume passes the store's). */
  readonly initial: ReadonlyArray<NodeState | undefined>;
  /** Known values by node (parameters), and encoded outputs of completed nodes (resume). */
  readonly values: ReadonlyMap<number, unknown>;
  readonly encodedOutputs: ReadonlyMap<number, string>;
  /** Resume: nodes that were waiting to retry, by node (their `initial` is WAITING). */
  readonly waiting?: ReadonlyMap<number, WaitingNode>;
  readonly runChild: ChildRunner;
  /** Shared by every dispatch of the engine: set-up/tear-down per executor, not per dispatch. */
  readonly leases: ExecutorLeases;
  /**
   * Write a node's RUNNING mark in the turn that starts it, not one turn later.
   * A dispatch runner under a server sets it: if a task takes the runner's
   * process down, the store then names the node that was running.
   */
  readonly eagerRunning?: boolean;
  /** Bytes of stdout and of stderr kept per task (the config's output_limit); the rest is cut with a marker. */
  readonly outputLimit?: number;
  /** Told of every state change once it is in the store (the server's live events). */
  readonly onChange?: (change: RunChange) => void;
  /** Told how the run goes (starts, each node's attempt with its times, the end): what metrics and traces are made of. */
  readonly observer?: RunObserver;
}

/** One node's new state in a `RunChange`. */
export interface NodeChange {
  readonly node: number;
  readonly status: Status;
}

/** What one scheduler turn changed, after it was committed. */
export interface RunChange {
  readonly dispatchId: DispatchId;
  readonly at: number;
  readonly nodes: readonly NodeChange[];
  /** The dispatch's own new status, when it changed. */
  readonly status?: Status;
  /** The dispatch is gone from the store (deleted from the dashboard, purged by the server's retention). */
  readonly deleted?: true;
}

export interface DispatchEnd {
  readonly status: FinalStatus;
  readonly value: unknown;
  readonly error: Error | undefined;
}
