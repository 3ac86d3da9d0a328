/**
 * Several servers sharing one database (a team server on Postgres): who
 * drives which dispatch, and how the servers hear each other.
 *
 * A server joins with a lease (an expiry it renews by heartbeat). A dispatch
 * names the server that drives it. When a server dies its lease runs out, and
 * another server claims its unfinished dispatches: the claim takes each row
 * with `FOR UPDATE SKIP LOCKED`, so exactly one server gets each. Expiry is
 * judged by the database's clock, so servers whose clocks disagree still agree
 * on who is alive. Messages between servers (live changes, cancels) go over
 * the database too (Postgres `LISTEN/NOTIFY`).
 *
 * Only a driver that several servers can share implements it (`Store.cluster`);
 * a SQLite store belongs to one server, which its data-dir lock already ensures.
 */
import type { DispatchId, ServerId } from "../../ids.js";

export type { ServerId };

export interface ServerRecord {
  readonly id: ServerId;
  /** Where its HTTP API answers (clients of a dead server go to another). */
  readonly url: string;
  readonly host: string;
  readonly pid: number;
  /** Its data dir: bundles and results it received live there (on its host). */
  readonly dataDir: string;
  readonly startedAt: number;
}

/** A dispatch taken over from a server whose lease ran out. */
export interface ClaimedDispatch {
  readonly id: DispatchId;
  /** The server that drove it before, if its row is still there. */
  readonly previous: ServerRecord | undefined;
}

/** What servers tell each other. `changes`: a dispatch's live changes; `commands`: a cancel for the server that drives it. */
export type ClusterChannel = "changes" | "commands";

export interface Cluster {
  /** Registers this server with a lease of `ttlMs`; a row left by an earlier start with the same id is replaced. */
  join(server: ServerRecord, ttlMs: number): Promise<void>;
  /**
   * Renews this server's lease for another `ttlMs`. False when the lease had already run out
   * or the row is gone: other servers may have taken its dispatches, so it must stop driving them.
   */
  heartbeat(id: ServerId, ttlMs: number): Promise<boolean>;
  /** Leaves (a clean stop): the row goes, and its unfinished dispatches can be claimed at once. */
  leave(id: ServerId): Promise<void>;
  /** Marks `dispatch` as driven by server `id` (a new submission, a redispatch). False if the dispatch is not stored. */
  claim(id: ServerId, dispatch: DispatchId): Promise<boolean>;
  /**
   * Takes up to `limit` unfinished top-level dispatches whose server's lease has run out or
   * whose server row is gone, for server `id`. Dispatches no server drives (run by an
   * embedded process) are never taken. Each dispatch goes to exactly one caller.
   */
  claimOrphans(id: ServerId, limit: number): Promise<ClaimedDispatch[]>;
  /** The server that drives `dispatch` now, if its lease is live. */
  serverOf(dispatch: DispatchId): Promise<ServerRecord | undefined>;
  /** The servers whose lease is live, oldest first. */
  servers(): Promise<ServerRecord[]>;
  /**
   * Sends `payload` (JSON) to every other server subscribed to `channel`. A payload larger
   * than one notification holds is split and joined again on the far side.
   */
  broadcast(channel: ClusterChannel, from: ServerId, payload: unknown): Promise<void>;
  /**
   * Calls `onMessage` with each payload another server broadcasts on `channel` (not this
   * server's own, `self`). Survives a dropped connection: it reconnects with backoff (messages
   * sent meanwhile are lost, so a listener re-reads what it shows). Resolves once listening;
   * the returned function stops it.
   */
  subscribe(channel: ClusterChannel, self: ServerId, onMessage: (payload: unknown, from: ServerId) => void): Promise<() => Promise<void>>;
  /**
   * Keeps code bundle `hash` (the sha256, hex, of its bytes) for every server of the team. Given
   * as bytes or as a stream of them (a file: it is read a part at a time, never whole). Idempotent:
   * a bundle already kept is left as it is. Contents whose sha256 is not `hash` are refused, and
   * nothing is kept; a put that fails part-way keeps nothing either.
   */
  putBundle(hash: string, bytes: Uint8Array | AsyncIterable<Uint8Array>): Promise<void>;
  /** Whether bundle `hash` is kept (a put of it has completed). */
  hasBundle(hash: string): Promise<boolean>;
  /** The bytes of bundle `hash`, or undefined when no server has put it. */
  getBundle(hash: string): Promise<Buffer | undefined>;
}
