/**
 * A trigger's fire: the dispatch of its lattice called with the fire's argument. The fire is
 * claimed in the store first (its key: the tick, or the file's version), then its dispatch is
 * stored under the id the claim names, then the claim is marked stored. A server killed in
 * between finds the claim unstored when it starts and stores that dispatch then (`recover`):
 * each tick or file version dispatches exactly once.
 *
 * The dispatch's graph is the template the client traced at registration: the lattice as
 * one sublattice node, fed by a parameter node that takes the fire's argument here. Its runner
 * traces the lattice from the bundle when that node runs, as it does any sublattice, so the
 * server runs no user code. The lattice's own graph is the sublattice's child dispatch.
 */
import { decode, encode } from "../../codec/index.js";
import { newDispatchId, type DispatchId } from "../../ids.js";
import { formatShort } from "../../sdk/format-value.js";
import type { SubmitBody } from "../../api/wire.js";
import type { Store } from "../../engine/store/store.js";
import type { TriggerFireRecord, TriggerRecord } from "../../engine/store/triggers.js";
import { storeSubmission } from "../submissions.js";

/** Where code bundles are (server/bundles.ts): a team server fetches one another server received. */
export interface TriggerBundles {
  here(hash: string): Promise<boolean>;
  share(hash: string): Promise<void>;
}

export interface FireOptions {
  readonly store: Store;
  readonly bundles: TriggerBundles;
  /** A fire's dispatch is stored: start it as a submitted one is (the team's claim, live events, a runner). */
  readonly started: (id: DispatchId) => Promise<void>;
  readonly log: (line: string) => void;
}

/** The template with the fire's argument in its parameter node (a lattice that takes none has no such node). */
export function fireBody(template: SubmitBody, arg: string): SubmitBody {
  if (!arg) return template;
  const value = decode(arg);
  return {
    ...template,
    inputs: encode([value], "trigger argument"),
    nodes: template.nodes.map((n) => (n.kind === "parameter" ? { ...n, name: `:parameter:${formatShort(value)}`, output: arg } : n)),
  };
}

export class TriggerFirer {
  constructor(private readonly opts: FireOptions) {}

  /**
   * Fires `t` for `key` with `value` (undefined for a lattice that takes no argument): the
   * dispatch's id, or undefined when that key has fired already (here, before a restart, or
   * on another server of the team).
   */
  async fire(t: TriggerRecord, key: string, value: unknown, tick: number | null): Promise<DispatchId | undefined> {
    const fire = { triggerId: t.id, key, dispatchId: newDispatchId(), arg: t.withArg ? encode(value, "trigger argument") : "", at: Date.now(), tick };
    if (!(await this.opts.store.triggers.claimFire(fire))) return undefined;
    await this.storeFire(t, fire);
    return fire.dispatchId;
  }

  private async storeFire(t: TriggerRecord, f: Pick<TriggerFireRecord, "key" | "dispatchId" | "arg">): Promise<void> {
    // A trigger registered with another server of the team: its bundle comes from the team's database.
    await this.opts.bundles.here(t.bundleHash);
    await storeSubmission(this.opts.store, fireBody(JSON.parse(t.template) as SubmitBody, f.arg), null, f.dispatchId);
    await this.opts.store.triggers.fireStored(t.id, f.key);
    this.opts.log(`trigger ${t.id}: ${t.latticeName} dispatched as ${f.dispatchId} (${t.kind} ${f.key})`);
    await this.opts.started(f.dispatchId);
  }

  /** Stores the dispatches of fires claimed by a server that died before storing them; how many. */
  async recover(): Promise<number> {
    let n = 0;
    for (const f of await this.opts.store.triggers.unstoredFires()) {
      const t = await this.opts.store.triggers.get(f.triggerId);
      try {
        if (!t) continue;
        // Stored, and only the mark was lost: the dispatch resumes like any unfinished one.
        if (await this.opts.store.getDispatch(f.dispatchId)) await this.opts.store.triggers.fireStored(t.id, f.key);
        else {
          await this.storeFire(t, f);
          n++;
        }
      } catch (error) {
        this.opts.log(`trigger ${f.triggerId}: the fire ${f.key} claimed before the restart could not be dispatched: ${(error as Error).message}`);
      }
    }
    return n;
  }
}
