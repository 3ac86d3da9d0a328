import type { TaskSetup } from "./task-setup.js";
import type { DispatchId, ElectronId, NodeId } from "../ids.js";
import type { LiveSink } from "./capture.js";

/** What a task knows about where it runs; the third argument of Covalent's `run`. */
export interface TaskMetadata {
  readonly dispatchId: DispatchId;
  readonly nodeId: NodeId;
  /** Directory of this dispatch's results; an executor may write files here. */
  readonly resultsDir: string;
}

export type TaskFunction = (...args: never[]) => unknown;

/** One unit of work handed to an executor by the dispatcher. */
export interface Task {
  readonly meta: TaskMetadata;
  readonly electronId: ElectronId;
  readonly electronName: string;
  /** The user's function; present where the dispatch's code is loaded (the runner process). */
  readonly fn: TaskFunction;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  /** The electron's deps, calls and files; remote executors move its `files` over their own transport. */
  readonly setup?: TaskSetup | undefined;
  /** Content-addressed code bundle, for executors that run the task in another process. */
  readonly bundlePath: string | undefined;
  /** Aborted on cancel or timeout; executors stop the task when it fires. */
  readonly signal: AbortSignal;
  /**
   * Whether the task was cancelled, without making `signal` (which the
   * dispatcher creates lazily): for in-process executors' hot path.
   */
  readonly isAborted?: () => boolean;
  /** Calls `onAbort` when the task is aborted, without making `signal`; returns a function that stops watching. */
  readonly watchAbort?: (onAbort: () => void) => () => void;
  /**
   * Where the task's output goes while it runs, so a long task's printed lines can be
   * followed before it ends. Executors hand it chunks as they arrive (in-process capture,
   * a worker's or runner's messages); the outcome still carries the whole output.
   */
  readonly live?: LiveSink | undefined;
}

/**
 * How a task ended. A successful outcome carries the value, or its encoded
 * form when it arrived encoded from another process (saves a decode/encode).
 */
/*
 * `lane`: where the task ran, as the dashboard's timeline rows it: "inline", "local worker N",
 * an SSH host, a Dask worker's address, a Slurm job id. Optional: an executor that says
 * nothing leaves the node's lane unknown.
 *
 * `startedAt`: when the task's body began (ms since the epoch), where the executor knows it
 * (a local worker, a remote runner): the timeline's bar starts there rather than when the
 * dispatcher handed the task over, so time spent queued for a busy pool is not drawn as work.
 */
export type TaskOutcome =
  | {
      readonly ok: true;
      readonly value?: unknown;
      readonly encoded?: string;
      readonly stdout: string;
      readonly stderr: string;
      readonly lane?: string;
      readonly startedAt?: number;
    }
  | { readonly ok: false; readonly error: Error; readonly stdout: string; readonly stderr: string; readonly lane?: string };
