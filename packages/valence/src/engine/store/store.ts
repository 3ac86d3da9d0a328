/**
 * The store: what every part of Valence (engine, server, dashboard API, CLI)
 * reads and writes dispatches through. `SqliteStore` is its driver today;
 * the contract every driver must pass is `store-contract.ts`. No SQL lives
 * outside a driver.
 *
 * Writes are synchronous and meant to be grouped: a scheduler turn calls
 * several of them inside one `batch`, and a driver makes the batch one
 * transaction (all or nothing), so a process killed at any moment leaves a
 * store it can resume from.
 */
import type { DispatchId } from "../../ids.js";
import type { Status } from "../../status.js";
import type { SubmittedNode } from "./graph-codec.js";
import type { DispatchRecord, EdgeRecord, EventRecord, NodeRecord } from "./records.js";

/** One finished node for `nodesCompleted`; `attempt` is set when its RUNNING mark was never written. */
export interface CompletedNode {
  readonly node: number;
  readonly encoded: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly at: number;
  readonly startedAt: number;
  readonly attempt: number | null;
}

/** Outputs larger than this live in a file under the dispatch's results dir, not in a row. */
export const LARGE_VALUE_BYTES = 256 * 1024;

/** A search of the top-level dispatches, newest first (the dashboard's list). */
export interface DispatchQuery {
  /** Only these statuses; empty or absent means all. */
  readonly statuses?: readonly Status[];
  /** A literal substring of the name or the id (`%` and `_` mean themselves). */
  readonly search?: string;
  readonly limit: number;
  readonly offset: number;
}

/** One row of the dashboard's dispatch list. */
export interface DispatchListRow {
  readonly id: DispatchId;
  readonly name: string;
  readonly status: Status;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly nodeCount: number;
  readonly nodesDone: number;
}

export interface Store {
  /** The data dir the store lives in (results dirs, bundles and the server's files sit beside it). */
  readonly dataDir: string;

  /** Runs `fn` as one transaction: its writes all land or none do (a throw rolls them back). */
  batch<T>(fn: () => T): T;

  // Writes.
  /** Stores a dispatch and its graph. `nodes` may be full NodeRecords; only what is fixed at submission is kept. */
  insertDispatch(d: DispatchRecord, nodes: readonly SubmittedNode[], edges: readonly EdgeRecord[]): void;
  nodeRunning(id: DispatchId, node: number, attempt: number, at: number): void;
  /** Each node COMPLETED with its output; outputs over LARGE_VALUE_BYTES go to a file in `resultsDir`. */
  nodesCompleted(id: DispatchId, resultsDir: string, items: readonly CompletedNode[]): void;
  nodeEnded(id: DispatchId, node: number, status: "FAILED" | "CANCELLED", encodedError: string, io: { stdout: string; stderr: string } | undefined, at: number): void;
  /** Adds `n` to the dispatch's count of settled nodes. */
  countDone(id: DispatchId, n: number): void;
  /**
   * Sets the status. The first call sets `startedAt`; `ended` sets `endedAt` to `at` (a call
   * without it clears it). An output or error given replaces the stored one; one not given is kept.
   */
  dispatchStatus(id: DispatchId, status: Status, at: number, fields?: { output?: string; error?: string; ended?: boolean }): void;
  event(id: DispatchId, node: number | null, kind: string, detail: string | null, cause: number | null, at: number): void;
  /** For nodes carried over by a redispatch: their logs, attempts and times (status and output came with the graph). */
  restoreNodes(id: DispatchId, nodes: readonly NodeRecord[]): void;
  /** Each electron's source text, by electron id. */
  insertSources(id: DispatchId, sources: Readonly<Record<string, string>>): void;
  setOwner(id: DispatchId, pid: number, host: string, lock: string): void;

  // Reads.
  getDispatch(id: string): DispatchRecord | undefined;
  /** Every node of the dispatch, in node id order, with its current state. */
  getNodes(id: DispatchId): NodeRecord[];
  getEdges(id: DispatchId): EdgeRecord[];
  /** Events after id `after`, in order. */
  getEvents(id: DispatchId, after?: number): EventRecord[];
  /** Top-level dispatches, newest first. */
  listDispatches(limit?: number): DispatchRecord[];
  getSources(id: DispatchId): Record<string, string>;
  childDispatches(id: DispatchId): DispatchRecord[];
  /** Dispatches not COMPLETED, FAILED or CANCELLED. */
  unfinishedDispatches(): DispatchRecord[];
  /** A node's encoded output, from its row or its file; null when it has none. */
  readOutput(n: Pick<NodeRecord, "output" | "outputFile">): string | null;

  // The dashboard's list.
  /** Top-level dispatches by status. */
  countByStatus(): Partial<Record<Status, number>>;
  /** The newest top-level dispatch, or null when there is none. */
  newestDispatch(): DispatchId | null;
  findDispatches(q: DispatchQuery): { readonly total: number; readonly rows: DispatchListRow[] };

  /** A hint that a burst of writes has ended (a dispatch finished): a good moment for housekeeping. */
  checkpointSoon(): void;
  close(): void;
}
