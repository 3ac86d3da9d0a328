/**
 * Messages between the server and a dispatch runner, over the runner's IPC
 * channel. The store is the source of truth; these only tell the server
 * sooner (live events) and carry cancels the other way.
 */
import type { DispatchId } from "../../ids.js";
import type { RunChange } from "../run/run-types.js";
import type { Observation } from "../observe/observation.js";

export type ToRunner =
  /** To a spare runner: run this dispatch, in the directory it was dispatched from. */
  | { readonly type: "run"; readonly dispatchId: DispatchId; readonly cwd: string }
  | { readonly type: "cancel"; readonly dispatchId: DispatchId; readonly nodes?: readonly number[] };

export type FromRunner =
  /** A committed state change of the dispatch or one of its sublattice runs. */
  | { readonly type: "change"; readonly change: RunChange }
  /** What the runs here observed since the last such message (the server's metrics and traces); always sent before the change it led to. */
  | { readonly type: "observed"; readonly observations: readonly Observation[] }
  /** The dispatch could not be loaded; it is marked FAILED with `message`. */
  | { readonly type: "load-failed"; readonly message: string }
  /** Sent every `BEAT_MS`: a runner that stops beating has its event loop blocked by a task. */
  | { readonly type: "beat" }
  /** The dispatch finished. */
  | { readonly type: "done"; readonly status: string }
  /** After "done", its executors torn down: the runner waits for another dispatch (a "run") and exits when idle long. */
  | { readonly type: "idle" };

/** A runner with no dispatch for this long exits. */
export const RUNNER_IDLE_MS = 30_000;

/** How often a runner says it is alive. */
export const BEAT_MS = 500;
