/**
 * Data retention: removing finished dispatches that are older than a cutoff, with everything
 * of theirs that nothing else uses.
 *
 * What goes, for each chosen top-level dispatch and every sublattice run under it: its rows
 * in the store (Store.deleteDispatch), its results dir, and then the code bundles no kept
 * dispatch (or kept dispatch's node, for a replaced electron) names, since bundles are
 * content-addressed and shared. Uploaded argument blobs are only read while a dispatch is
 * submitted, so those older than the cutoff go too. A dispatch that is not finished is never
 * chosen; a redispatch copies what it reuses into its own rows, so it needs nothing of the
 * dispatch it came from.
 */
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { ValenceError } from "../errors.js";
import type { DispatchId } from "../ids.js";
import { isTerminal, STATUSES, TERMINAL_STATUSES, type Status } from "../status.js";
import { resultsDirHere } from "./local-paths.js";
import type { DispatchRecord } from "./store/records.js";
import type { Store } from "./store/store.js";

/** A purge option that cannot be read: `option` names it (`--older-than`, or a config key), `problem` says what it must be. */
export class PurgeOptionsError extends ValenceError {
  override readonly code = "PURGE_OPTIONS";
  constructor(
    readonly option: string,
    readonly problem: string,
  ) {
    super(`${option} ${problem}`);
  }
}

export interface PurgeQuery {
  /** Dispatches that ended more than this many milliseconds before `now`. */
  readonly olderThanMs: number;
  /** Only these final statuses (default: COMPLETED, FAILED and CANCELLED). */
  readonly statuses?: readonly Status[];
  readonly now?: number;
}

/** One top-level dispatch a purge removes. */
export interface PurgedDispatch {
  readonly id: DispatchId;
  readonly name: string;
  readonly status: Status;
  readonly endedAt: number;
  /** It and its sublattice runs, parents before children: all removed together. */
  readonly tree: readonly DispatchId[];
  /** Their results dirs, as this machine has them (those that exist). */
  readonly resultsDirs: readonly string[];
  /** Bytes of those results dirs. */
  readonly resultsBytes: number;
}

export interface PurgePlan {
  readonly dispatches: readonly PurgedDispatch[];
  /** Every dispatch removed: the top-level ones and their sublattice runs. */
  readonly dispatchIds: readonly DispatchId[];
  /** Bundle files no kept dispatch names (with their source maps). */
  readonly bundles: readonly string[];
  /** Uploaded argument blobs older than the cutoff. */
  readonly blobs: readonly string[];
  /** Bytes on disk that go: results dirs, bundles and blobs. */
  readonly bytes: number;
}

/** How often a server with `[retention]` sweeps, unless it says (`every`). */
export const DEFAULT_RETENTION_EVERY_MS = 60 * 60 * 1000;

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "30d", "12h", "90m", "1w" as milliseconds. */
export function parseAge(text: string, option = "--older-than"): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new PurgeOptionsError(option, `must be an age such as 30d, 12h, 90m or 1w, not ${JSON.stringify(text)}`);
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

/** Final statuses from "COMPLETED,FAILED"; anything else is refused, naming what is allowed. */
export function parseStatuses(text: string, option = "--status"): Status[] {
  const out: Status[] = [];
  for (const raw of text.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean)) {
    if (!(STATUSES as readonly string[]).includes(raw) || !TERMINAL_STATUSES.has(raw as Status)) {
      throw new PurgeOptionsError(option, `takes final statuses (${[...TERMINAL_STATUSES].join(", ")}), not ${JSON.stringify(raw)}: a dispatch that has not finished is never purged`);
    }
    out.push(raw as Status);
  }
  if (!out.length) throw new PurgeOptionsError(option, `needs at least one of ${[...TERMINAL_STATUSES].join(", ")}`);
  return out;
}

/** What `purge` would remove; nothing is changed. */
export async function planPurge(store: Store, q: PurgeQuery): Promise<PurgePlan> {
  if (!Number.isFinite(q.olderThanMs) || q.olderThanMs < 0) throw new PurgeOptionsError("the age", `must be a number of milliseconds ≥ 0, not ${q.olderThanMs}`);
  const now = q.now ?? Date.now();
  const cutoff = now - q.olderThanMs;
  const statuses = new Set(q.statuses ?? TERMINAL_STATUSES);
  const dataDir = store.dataDir;
  const top = await store.listDispatches(Number.MAX_SAFE_INTEGER);
  const chosen: PurgedDispatch[] = [];
  const kept: DispatchRecord[] = [];
  for (const d of top) {
    const tree = await withChildren(store, d);
    const old = isTerminal(d.status) && statuses.has(d.status) && d.endedAt !== null && d.endedAt < cutoff;
    if (old) chosen.push(removal(d, tree, dataDir));
    else kept.push(...tree);
  }
  // Only files older than the cutoff: a bundle or blob just made may be for a dispatch being submitted now.
  const bundles = await unusedBundles(store, dataDir, kept, cutoff);
  const blobs = oldFiles(join(dataDir, "blobs"), cutoff);
  return planOf(chosen, bundles, blobs);
}

/** A dispatch that cannot be deleted as asked: not finished, or a sublattice run (its parent is what goes). */
export class DeleteRefusedError extends ValenceError {
  override readonly code = "DELETE_REFUSED";
}

/**
 * What deleting one finished top-level dispatch removes: its rows, its sublattice runs and
 * their results dirs. Bundles stay (another dispatch may share them; `valence purge` removes
 * those nothing uses).
 *
 * @throws DeleteRefusedError for a dispatch that has not finished or is a sublattice run.
 */
export async function planDelete(store: Store, d: DispatchRecord): Promise<PurgePlan> {
  if (d.parentId !== null) throw new DeleteRefusedError(`dispatch ${d.id} is a sublattice run of ${d.parentId}; delete that dispatch instead`);
  if (!isTerminal(d.status)) throw new DeleteRefusedError(`dispatch ${d.id} is ${d.status}; cancel it first, or delete it once it has finished`);
  return planOf([removal(d, await withChildren(store, d), store.dataDir)], [], []);
}

/** Nothing to remove: no dispatch, bundle or blob. */
export const purgesNothing = (plan: PurgePlan): boolean => !plan.dispatches.length && !plan.bundles.length && !plan.blobs.length;

/** One line that says what `plan` removes and how much space: `verb` is "removed" or "would remove". */
export function purgeSummary(plan: PurgePlan, verb: string): string {
  const top = plan.dispatches.length;
  return (
    `${verb} ${top} dispatch${top === 1 ? "" : "es"} (${plan.dispatchIds.length} with sublattice runs), ` +
    `${plan.bundles.length} unused bundle file${plan.bundles.length === 1 ? "" : "s"}, ${plan.blobs.length} uploaded value${plan.blobs.length === 1 ? "" : "s"}: ` +
    `${formatBytes(plan.bytes)} on disk`
  );
}

/** "412 B", "3.5 KiB", "412.5 MiB", "1.20 GiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** What removing top-level dispatch `d` with its sublattice runs `tree` takes from this data dir. */
function removal(d: DispatchRecord, tree: readonly DispatchRecord[], dataDir: string): PurgedDispatch {
  const resultsDirs = tree.map((x) => resultsDirHere(x.resultsDir, dataDir)).filter((p) => existsSync(p));
  return {
    id: d.id,
    name: d.name,
    status: d.status,
    endedAt: d.endedAt ?? d.createdAt,
    tree: tree.map((x) => x.id),
    resultsDirs,
    resultsBytes: resultsDirs.reduce((sum, p) => sum + sizeOf(p), 0),
  };
}

function planOf(dispatches: PurgedDispatch[], bundles: string[], blobs: string[]): PurgePlan {
  const bytes = dispatches.reduce((sum, d) => sum + d.resultsBytes, 0) + [...bundles, ...blobs].reduce((sum, f) => sum + sizeOf(f), 0);
  return { dispatches, dispatchIds: dispatches.flatMap((d) => d.tree), bundles, blobs, bytes };
}

/**
 * Removes what `plan` names: the store rows first (one write per top-level dispatch with its
 * sublattice runs, so a dispatch goes whole or not at all), then the files.
 */
export async function purge(store: Store, plan: PurgePlan): Promise<void> {
  for (const d of plan.dispatches) {
    // Children first: each names its parent.
    await store.write((w) => {
      for (const id of [...d.tree].reverse()) w.deleteDispatch(id);
    });
  }
  for (const dir of plan.dispatches.flatMap((d) => d.resultsDirs)) rmSync(dir, { recursive: true, force: true });
  for (const f of [...plan.bundles, ...plan.blobs]) rmSync(f, { force: true });
  store.checkpointSoon();
}

/** `d` and every sublattice run under it, parents before children. */
async function withChildren(store: Store, d: DispatchRecord): Promise<DispatchRecord[]> {
  const out = [d];
  for (let i = 0; i < out.length; i++) out.push(...(await store.childDispatches((out[i] as DispatchRecord).id)));
  return out;
}

/**
 * Bundle files (older than `cutoff`) that no kept dispatch names, nor any kept dispatch's node
 * (a replaced electron's bundle). Nodes are read only while some candidate is still unnamed:
 * a server's hourly sweep of a store where every bundle is in use reads no node at all.
 */
async function unusedBundles(store: Store, dataDir: string, kept: readonly DispatchRecord[], cutoff: number): Promise<string[]> {
  const dir = join(dataDir, "bundles");
  if (!existsSync(dir)) return [];
  const candidates = new Map<string, string[]>();
  for (const f of readdirSync(dir)) {
    const path = join(dir, f);
    if (!/\.mjs(\.map)?$/.test(f) || !olderThan(path, cutoff)) continue;
    const hash = bundleHash(f);
    candidates.set(hash, [...(candidates.get(hash) ?? []), path]);
  }
  for (const d of kept) if (d.bundlePath) candidates.delete(bundleHash(d.bundlePath));
  // A trigger's next fire loads its lattice from this bundle.
  for (const t of await store.triggers.list()) candidates.delete(t.bundleHash);
  for (const d of kept) {
    if (!candidates.size) break;
    for (const n of await store.getNodes(d.id)) if (n.bundlePath) candidates.delete(bundleHash(n.bundlePath));
  }
  return [...candidates.values()].flat();
}

const bundleHash = (path: string): string => basename(path).replace(/\.mjs(\.map)?$/, "");

function oldFiles(dir: string, cutoff: number): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => join(dir, f))
    .filter((p) => olderThan(p, cutoff));
}

function olderThan(file: string, cutoff: number): boolean {
  const st = statSync(file, { throwIfNoEntry: false });
  return st !== undefined && st.isFile() && st.mtimeMs < cutoff;
}

/** Bytes of a file, or of every file under a directory; 0 when it is not there. */
function sizeOf(path: string): number {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const f of readdirSync(path)) total += sizeOf(join(path, f));
  return total;
}
