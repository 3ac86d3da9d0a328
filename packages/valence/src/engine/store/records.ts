/** Rows of the store, in the shapes the engine reads and writes them. */
import type { DispatchId } from "../../ids.js";
import type { Status } from "../../status.js";

export interface DispatchRecord {
  readonly id: DispatchId;
  readonly parentId: DispatchId | null;
  readonly parentNode: number | null;
  readonly name: string;
  readonly latticeId: string | null;
  readonly status: Status;
  /** Encoded array of the lattice's positional arguments. */
  readonly inputs: string;
  /** Encoded lattice output, or null until completed. */
  readonly output: string | null;
  /** Encoded OutputTemplate: the lattice's return value with each handle's place and node. */
  readonly outputTemplate: string;
  /** Encoded Error, or null. */
  readonly error: string | null;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly resultsDir: string;
  readonly bundlePath: string | null;
  readonly entryFile: string | null;
  readonly cwd: string;
  readonly ownerPid: number | null;
  readonly ownerHost: string | null;
  /** The owner lock of the process running it (see engine/locks/owner-lock.ts); null until one runs it. */
  readonly ownerLock: string | null;
  readonly nodeCount: number;
  readonly nodesDone: number;
}

export interface NodeRecord {
  readonly nodeId: number;
  readonly kind: string;
  readonly name: string;
  readonly electronId: string | null;
  readonly status: Status;
  /** JSON: an executor name, or an ExecutorSpec. */
  readonly executor: string | null;
  readonly retries: number;
  /** JSON of the RetryPolicy (sdk/retry.ts): backoff and which errors retry; null retries at once. */
  readonly retryPolicy: string | null;
  readonly timeoutMs: number | null;
  /** JSON of the attribute key / index. */
  readonly key: string | null;
  /** JSON of a collection's hole paths. */
  readonly holes: string | null;
  /** Encoded collection skeleton. */
  readonly value: string | null;
  /** Encoded output (parameters: their value). */
  readonly output: string | null;
  readonly outputFile: string | null;
  readonly stdout: string | null;
  readonly stderr: string | null;
  /** Encoded Error. */
  readonly error: string | null;
  readonly attempts: number;
  /** While a failed try waits out its backoff (the node stays RUNNING): when the next try is due. */
  readonly retryAt: number | null;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  /** Where the node ran (a local worker, an SSH host, a Dask worker, a Slurm job); null when unknown or it has not run. */
  readonly lane: string | null;
  /** The bundle this node's electron comes from, when not the dispatch's (a replaced electron). */
  readonly bundlePath: string | null;
  /** JSON of the electron's CachePolicy (sdk/cache.ts); absent or null: it does not cache. */
  readonly cachePolicy: string | null;
  /** A cache hit: where its output was made; null when it ran (or has not). */
  readonly cachedFrom: { readonly dispatchId: DispatchId; readonly nodeId: number } | null;
}

export interface EdgeRecord {
  readonly source: number;
  readonly target: number;
  /** JSON of the EdgeParam. */
  readonly param: string;
}

export interface EventRecord {
  readonly id: number;
  readonly dispatchId: DispatchId;
  readonly nodeId: number | null;
  readonly at: number;
  readonly kind: string;
  readonly detail: string | null;
  readonly cause: number | null;
}
