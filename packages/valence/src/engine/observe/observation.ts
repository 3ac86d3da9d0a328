/**
 * What a dispatch run tells an observer: the figures metrics and traces are
 * made of. Plain data, so a server's dispatch runner can send them over its
 * IPC channel to the server, where /metrics and the OTLP exporter live; the
 * engine itself never loads a metrics or tracing library.
 *
 * An embedded dispatch with no observer pays one `undefined` check per turn.
 */
import type { DispatchId } from "../../ids.js";
import type { GraphNode } from "../../sdk/graph.js";
import type { FinalStatus } from "../scheduler/transitions.js";

export type Observation = DispatchStarted | NodeEnded | DispatchEnded | StoreWritten;

/** A run of the dispatch began (a resumed dispatch begins again). Times are ms since the epoch. */
export interface DispatchStarted {
  readonly kind: "dispatch-started";
  readonly dispatchId: DispatchId;
  readonly at: number;
}

/** One attempt of a node ended, its outcome committed to the store. */
export interface NodeEnded {
  readonly kind: "node-ended";
  readonly dispatchId: DispatchId;
  readonly node: number;
  readonly name: string;
  readonly nodeKind: GraphNode["kind"];
  /** The executor's plugin name; null for nodes no executor runs (attribute, index, collection, sublattice). */
  readonly executor: string | null;
  /** Counts from 1. */
  readonly attempt: number;
  readonly status: FinalStatus;
  /** A failed attempt that will be tried again. */
  readonly retrying: boolean;
  /** When the dispatcher handed the node to its executor. */
  readonly handedOverAt: number;
  /** When the task's body began, as the executor saw it; null when the executor does not say. */
  readonly startedAt: number | null;
  readonly endedAt: number;
  /** A cached electron's completion: its result reused from an earlier run ("hit", nothing ran), or run and kept ("stored"). */
  readonly cache?: "hit" | "stored";
}

/** The dispatch run ended with `status` (stored before this is told). */
export interface DispatchEnded {
  readonly kind: "dispatch-ended";
  readonly dispatchId: DispatchId;
  readonly status: FinalStatus;
  readonly at: number;
}

/** A store write (or read-then-write transaction) settled after `seconds`. */
export interface StoreWritten {
  readonly kind: "store-write";
  readonly op: "write" | "transaction";
  readonly seconds: number;
  readonly ok: boolean;
}

/** Hears a run's observations. Must not throw and must not block: it is called on the scheduler's turn. */
export interface RunObserver {
  observe(o: Observation): void;
}

/** One observer that tells each of `observers` (undefined ones left out); undefined when none is left. */
export function allOf(...observers: ReadonlyArray<RunObserver | undefined>): RunObserver | undefined {
  const list = observers.filter((o): o is RunObserver => o !== undefined);
  if (list.length <= 1) return list[0];
  return { observe: (o) => list.forEach((l) => l.observe(o)) };
}
