/**
 * Triggers in the store: each one registered with a server, and each of its fires. A fire is
 * claimed (its row written, keyed by the tick or the file's version) BEFORE its dispatch is
 * stored, and marked stored after: a server killed between the two finds the fire unstored at
 * its next start and stores that dispatch then, under the id the fire names. So a tick or a
 * file version dispatches exactly once, whatever moment the server dies, and two servers
 * sharing a database cannot both fire it (the second claim finds the key taken).
 *
 * Kept apart from the dispatch writes (store.ts): a trigger's rows are few and written alone.
 */
import type { DispatchId, TriggerId } from "../../ids.js";
import type { TriggerKind } from "../../sdk/trigger-spec.js";

export interface TriggerRecord {
  readonly id: TriggerId;
  readonly latticeName: string;
  readonly latticeId: string;
  readonly kind: TriggerKind;
  /** The absolute directory (watch), the duration as written (every), the cron expression (cron). */
  readonly spec: string;
  readonly everyMs: number | null;
  readonly timezone: string | null;
  /** JSON of the dispatch each fire stores (server/triggers/fire.ts): the lattice as a sublattice of its argument. */
  readonly template: string;
  /** The bundle the lattice's code is in (purge keeps it while the trigger exists). */
  readonly bundleHash: string;
  /** Whether the lattice takes the fire's argument (the path, the tick time); false: it is called with none. */
  readonly withArg: boolean;
  readonly paused: boolean;
  readonly createdAt: number;
  /**
   * Since when it has been listening: its creation, or its last resume. Ticks and file
   * versions from before this are not fired (a paused trigger does not catch up).
   */
  readonly armedAt: number;
  /** When it last fired (ms since the epoch), or null. */
  readonly lastFireAt: number | null;
  /** The last tick it fired (every, cron): ticks up to it are done. */
  readonly lastTick: number | null;
}

export interface TriggerFireRecord {
  readonly triggerId: TriggerId;
  /** What fired, unique per trigger: the tick's ISO time, or `mtimeMs:path` of a file version. */
  readonly key: string;
  readonly dispatchId: DispatchId;
  /** The encoded argument the lattice is called with ("" when it takes none). */
  readonly arg: string;
  readonly at: number;
  /** The tick fired (every, cron), or null (watch). */
  readonly tick: number | null;
  /** Its dispatch is in the store (false only between the claim and the dispatch's write). */
  readonly stored: boolean;
}

export interface TriggerStore {
  insert(t: TriggerRecord): Promise<void>;
  get(id: string): Promise<TriggerRecord | undefined>;
  /** Every trigger, oldest first. */
  list(): Promise<TriggerRecord[]>;
  /** Pauses it, or resumes it (re-armed from `at`). */
  setPaused(id: TriggerId, paused: boolean, at: number): Promise<void>;
  /** Removes the trigger and its fire rows (not the dispatches they made); false when there was none. */
  remove(id: TriggerId): Promise<boolean>;
  /**
   * Records the fire unless one with its key exists, or the trigger is paused or gone (then
   * false, and nothing changes); with it, the trigger's last fire time and (a tick) its last
   * tick, in one transaction.
   */
  claimFire(f: Omit<TriggerFireRecord, "stored">): Promise<boolean>;
  /** Its dispatch has been stored. */
  fireStored(triggerId: TriggerId, key: string): Promise<void>;
  /** Fires claimed whose dispatch was never marked stored (the server died in between). */
  unstoredFires(): Promise<TriggerFireRecord[]>;
  /** The fire that made this dispatch, if a trigger's fire did. */
  fireOf(dispatchId: DispatchId): Promise<TriggerFireRecord | undefined>;
  /** Its newest fires first. */
  fires(triggerId: TriggerId, limit: number): Promise<TriggerFireRecord[]>;
}
