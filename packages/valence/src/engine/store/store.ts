/**
 * The store: what every part of Valence (engine, server, dashboard API, CLI)
 * reads and writes dispatches through. `SqliteStore` (embedded, one server)
 * and a network database's driver implement it; the contract every driver
 * must pass is `test-support/store-contract.ts`. No SQL lives outside a driver.
 *
 * Asynchronous where a network database needs it, and shaped so the embedded
 * driver pays nothing for that:
 * - Reads return promises (SQLite's resolve at once).
 * - Writes are grouped: `write(fill)` calls `fill` at once with a writer that
 *   records the writes, and settles when all of them are durable as one
 *   transaction (all or nothing). A scheduler turn records every state change
 *   of the turn this way and acts only after the promise settles, so a
 *   process killed at any moment leaves a store it can resume from.
 * - `transaction(fn)` is for the few writes that depend on what is read
 *   (an owner check, a dead runner's nodes): its reads and writes see one
 *   snapshot and commit together.
 */
import type { CacheKey, DispatchId } from "../../ids.js";
import type { Cluster } from "./cluster.js";
import type { TriggerStore } from "./triggers.js";
import type { Status } from "../../status.js";
import type { SubmittedNode } from "./graph-codec.js";
import type { DispatchRecord, EdgeRecord, EventRecord, NodeRecord } from "./records.js";
import type { OutputStream } from "../../executor/capture.js";

/** One finished node for `nodesCompleted`; `attempt` is set when its RUNNING mark was never written. */
export interface CompletedNode {
  readonly node: number;
  readonly encoded: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly at: number;
  /** When this attempt started; it replaces a stored start (the RUNNING mark's, or an earlier attempt's). */
  readonly startedAt: number;
  readonly attempt: number | null;
  /** Where it ran (TaskOutcome.lane): a worker, host, Dask worker or Slurm job; undefined or null when unknown. */
  readonly lane?: string | null | undefined;
  /** A cached electron's fresh result: kept under this key for later dispatches (replacing an entry of the key). */
  readonly cacheAs?: NewCacheEntry | undefined;
  /** A cache hit: the output is entry `key`'s, made by that dispatch's node (the entry counts the hit). */
  readonly cachedFrom?: (CachedFrom & { readonly key: CacheKey }) | undefined;
}

/** Where a cached result was made. */
export interface CachedFrom {
  readonly dispatchId: DispatchId;
  readonly nodeId: number;
}

/** What a completing node's write keeps for later dispatches. */
export interface NewCacheEntry {
  readonly key: CacheKey;
  /** The electron's name, for people (`valence cache ls`). */
  readonly electron: string;
  /** Null: until cleared. */
  readonly expiresAt: number | null;
}

/** A result kept for reuse, by the content hash of its code and inputs (engine/run/result-cache.ts). */
export interface CacheEntry extends NewCacheEntry, CachedFrom {
  readonly createdAt: number;
  readonly hits: number;
  readonly lastHitAt: number | null;
}

/** A live entry and the output it stands for. */
export interface CacheHit {
  readonly entry: CacheEntry;
  readonly encoded: string;
}

/** A piece of a running node's stdout or stderr, in the order written. */
export interface LiveChunk {
  readonly node: number;
  readonly stream: OutputStream;
  readonly text: string;
}

/** A stored live chunk: `id` orders the chunks of a store, and `after` reads resume from it. */
export interface LiveChunkRecord extends LiveChunk {
  readonly id: number;
  readonly at: number;
}

/** A node's status and its whole stdout and stderr, as its state row holds them. */
export interface NodeLogs {
  readonly status: Status;
  readonly stdout: string | null;
  readonly stderr: string | null;
  /** Attempts started so far (a retry starts the node's output again). */
  readonly attempts: number;
  /** While a failed try waits out its backoff: when the next is due (ms since the epoch). */
  readonly retryAt: number | null;
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

/** The writes of one transaction. Recorded in call order; a driver applies them in that order. */
export interface StoreWrites {
  /** Stores a dispatch and its graph. `nodes` may be full NodeRecords; only what is fixed at submission is kept. */
  insertDispatch(d: DispatchRecord, nodes: readonly SubmittedNode[], edges: readonly EdgeRecord[]): void;
  /** The node's try `attempt` has started (a retry's due time, if any, is cleared). */
  nodeRunning(id: DispatchId, node: number, attempt: number, at: number): void;
  /**
   * Try `attempt` failed and the next is due at `retryAt` (ms since the epoch): the node stays
   * RUNNING with that error and due time, so a dispatcher that restarts keeps the schedule.
   */
  nodeRetrying(id: DispatchId, node: number, attempt: number, encodedError: string, retryAt: number): void;
  /** Each node COMPLETED with its output; outputs over LARGE_VALUE_BYTES go to a file in `resultsDir`. */
  nodesCompleted(id: DispatchId, resultsDir: string, items: readonly CompletedNode[]): void;
  /** `lane`: where the node ran, when it did (a failure), as in CompletedNode. */
  nodeEnded(
    id: DispatchId,
    node: number,
    status: "FAILED" | "CANCELLED",
    encodedError: string,
    io: { stdout: string; stderr: string } | undefined,
    at: number,
    lane?: string | null,
  ): void;
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
  /** Chunks of running nodes' output (engine/run/live-output.ts), kept until the node's end writes its whole output. */
  liveOutputAppended(id: DispatchId, chunks: readonly LiveChunk[], at: number): void;
  /** The node's attempt has ended and its outcome holds the whole output: its chunks go (every node's, for null). */
  liveOutputCleared(id: DispatchId, node: number | null): void;
  /**
   * Removes the dispatch and everything stored of it: its graph, node states, events, sources,
   * live output, the result-cache entries its nodes made (and on Postgres its large values). Not its child dispatches (delete each) nor
   * files: the caller removes its results dir, and bundles nothing else uses (engine/purge.ts).
   */
  deleteDispatch(id: DispatchId): void;
  /** Removes these result-cache entries (the results stay with their dispatches). */
  cacheRemoved(keys: readonly CacheKey[]): void;
  /** Names the process that runs the dispatch; nulls: none does (a team server that took it over lets go of an owner on another machine). */
  setOwner(id: DispatchId, pid: number | null, host: string | null, lock: string | null): void;
}

/** Inside `transaction`: reads of the transaction's own snapshot, and its writes. */
export interface StoreTx extends StoreWrites {
  getDispatch(id: string): Promise<DispatchRecord | undefined>;
  getNodes(id: DispatchId): Promise<NodeRecord[]>;
  childDispatches(id: DispatchId): Promise<DispatchRecord[]>;
}

/**
 * Reads a driver that answers in-process can give synchronously. Used where reading later,
 * or never, saves the work: a `Result`'s nodes are read when they are first looked at, and a
 * result whose nodes are never looked at (most of them) never reads 10k node rows.
 */
export interface InProcessReads {
  getNodes(id: DispatchId): NodeRecord[];
  readOutput(n: Pick<NodeRecord, "output" | "outputFile">): string | null;
}

export interface Store {
  /** The data dir the store lives in (results dirs, bundles and the server's files sit beside it). */
  readonly dataDir: string;
  /** Set by drivers that answer in-process (SQLite); a network driver leaves it out. */
  readonly inProcess?: InProcessReads;
  /** Set by drivers several servers can share (Postgres): leases and messages between servers. */
  readonly cluster?: Cluster;
  /** Triggers registered with a server, and their fires (triggers.ts). */
  readonly triggers: TriggerStore;

  /**
   * Calls `fill` at once (synchronously) to record writes, then makes them durable as one
   * transaction. The promise settles when they are; it rejects, with nothing written, when
   * `fill` throws or the store refuses them.
   */
  write(fill: (w: StoreWrites) => void): Promise<void>;
  /** Runs `fn` as one transaction: what it reads is what its writes commit against; a throw writes nothing. */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;

  // Reads.
  getDispatch(id: string): Promise<DispatchRecord | undefined>;
  /** Every node of the dispatch, in node id order, with its current state. */
  getNodes(id: DispatchId): Promise<NodeRecord[]>;
  getEdges(id: DispatchId): Promise<EdgeRecord[]>;
  /** Events after id `after`, in order. */
  getEvents(id: DispatchId, after?: number): Promise<EventRecord[]>;
  /** Top-level dispatches, newest first. */
  listDispatches(limit?: number): Promise<DispatchRecord[]>;
  getSources(id: DispatchId): Promise<Record<string, string>>;
  childDispatches(id: DispatchId): Promise<DispatchRecord[]>;
  /** Dispatches not COMPLETED, FAILED or CANCELLED. */
  unfinishedDispatches(): Promise<DispatchRecord[]>;
  /** One node's state row alone (no graph read): its status and whole logs, or undefined while it has none (pending). */
  getNodeLogs(id: DispatchId, node: number): Promise<NodeLogs | undefined>;
  /** The live chunks of a node (all nodes when `node` is null) with ids above `after`, in order. */
  getLiveOutput(id: DispatchId, node: number | null, after?: number): Promise<LiveChunkRecord[]>;
  /** A node's encoded output, from its row or its file; null when it has none. */
  readOutput(n: Pick<NodeRecord, "output" | "outputFile">): Promise<string | null>;

  // The result cache.
  /** Entry `key` if it has not expired at `now` and its node still holds its output. */
  cacheLookup(key: CacheKey, now: number): Promise<CacheHit | undefined>;
  /** Every entry, newest first (expired ones too: `valence cache ls` shows them as such). */
  cacheEntries(): Promise<CacheEntry[]>;

  // The dashboard's list.
  /** Top-level dispatches by status. */
  countByStatus(): Promise<Partial<Record<Status, number>>>;
  /** The newest top-level dispatch, or null when there is none. */
  newestDispatch(): Promise<DispatchId | null>;
  findDispatches(q: DispatchQuery): Promise<{ readonly total: number; readonly rows: DispatchListRow[] }>;

  /** A hint that a burst of writes has ended (a dispatch finished): a good moment for housekeeping. */
  checkpointSoon(): void;
  close(): Promise<void>;
}
