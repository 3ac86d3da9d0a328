/**
 * Getting a dispatch ready to run here when it was taken over from a team
 * server whose lease ran out (server/team.ts). That server may have been on
 * another machine: its runners' ownership cannot be checked from here, and
 * the dispatch's code bundles may be only on its disk and in the team's
 * database.
 */
import { hostname } from "node:os";
import { join } from "node:path";
import { BundleLoadError } from "../errors.js";
import { bundleHashOf, findBundle } from "../engine/local-paths.js";
import { encodeError } from "../engine/run/stored-error.js";
import { isTerminal } from "../status.js";
import type { DispatchRecord } from "../engine/store/records.js";
import type { Store } from "../engine/store/store.js";
import type { Bundles } from "./bundles.js";
import type { EventHub } from "./event-hub.js";

export interface TakeOverContext {
  readonly store: Store;
  readonly bundles: Bundles;
  readonly hub: EventHub;
  readonly log: (line: string) => void;
}

/**
 * Lets go of owners on other machines and fetches the bundles this machine lacks, for `d`
 * and its unfinished sublattice runs. False when `d` cannot run here (it is then FAILED,
 * naming the bundles neither here nor in the database).
 */
export async function prepareTakeOver(d: DispatchRecord, ctx: TakeOverContext): Promise<boolean> {
  const tree = await unfinishedTree(ctx.store, d);
  await releaseOwnersElsewhere(ctx, d, tree);
  const missing = await fetchBundles(ctx, d, tree);
  if (!missing.length) return true;
  await failForBundles(ctx, d, missing);
  return false;
}

/** `d` and its unfinished sublattice runs (and theirs), which its runner resumes. */
async function unfinishedTree(store: Store, d: DispatchRecord): Promise<DispatchRecord[]> {
  const out = [d];
  for (let i = 0; i < out.length; i++) {
    for (const child of await store.childDispatches((out[i] as DispatchRecord).id)) if (!isTerminal(child.status)) out.push(child);
  }
  return out;
}

/**
 * A dispatch taken over names as its owner a runner of the server that drove it. One on
 * this machine is checked by its lock (ownedElsewhere); one on another machine cannot be,
 * and the runner would refuse to resume the dispatch for it. The lease says that server is
 * gone, and a server stops its runners before its lease runs out (team.ts), so such an
 * owner is let go of: the dispatch, and its sublattice runs, are owned by no one until this
 * server's runner takes them.
 */
async function releaseOwnersElsewhere(ctx: TakeOverContext, d: DispatchRecord, tree: readonly DispatchRecord[]): Promise<void> {
  const here = hostname();
  const elsewhere = tree.filter((x) => x.ownerLock !== null && x.ownerHost !== null && x.ownerHost !== here);
  if (!elsewhere.length) return;
  await ctx.store.write((w) => {
    for (const x of elsewhere) w.setOwner(x.id, null, null, null);
  });
  ctx.log(`dispatch ${d.id}: let go of its owner${elsewhere.length > 1 ? "s" : ""} on ${[...new Set(elsewhere.map((x) => x.ownerHost))].join(", ")}, whose server's lease ran out`);
}

/**
 * Fetches into this data dir every code bundle that dispatch `d` (and its unfinished
 * sublattice runs, which its runner resumes) needs and this machine lacks: the dispatch's
 * own, and its nodes' (replaced electrons'); `tree` is `unfinishedTree(d)`. The hashes of
 * those the team's database lacks too.
 */
async function fetchBundles(ctx: TakeOverContext, d: DispatchRecord, tree: readonly DispatchRecord[]): Promise<string[]> {
  const { store } = ctx;
  const paths = new Set<string>();
  for (const x of tree) {
    if (x.bundlePath !== null) paths.add(x.bundlePath);
    for (const n of await store.getNodes(x.id)) if (n.bundlePath !== null) paths.add(n.bundlePath);
  }
  const missing: string[] = [];
  for (const path of paths) {
    if (findBundle(path, store.dataDir)) continue;
    const hash = bundleHashOf(path);
    if (await ctx.bundles.here(hash)) ctx.log(`dispatch ${d.id}: fetched its code bundle ${hash} from the team's database`);
    else missing.push(hash);
  }
  return missing;
}

/** Dispatch `d` cannot run here: code it needs is neither on this machine nor in the team's database. */
async function failForBundles(ctx: TakeOverContext, d: DispatchRecord, missing: readonly string[]): Promise<void> {
  const which = missing.length === 1 ? `code bundle ${missing[0]} is` : `code bundles ${missing.join(", ")} are`;
  const error = new BundleLoadError(
    `dispatch ${d.id}: its ${which} neither on this server (${join(ctx.store.dataDir, "bundles")}) nor in the team's database ` +
      "(stored by a Valence that kept bundles in the receiving server's data dir only, or removed from it), so it cannot run here; dispatch the workflow again",
  );
  ctx.log(error.message);
  const at = Date.now();
  await ctx.store.write((w) => w.dispatchStatus(d.id, "FAILED", at, { error: encodeError(error), ended: true }));
  ctx.hub.publish({ dispatchId: d.id, at, nodes: [], status: "FAILED" });
}
