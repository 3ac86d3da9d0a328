/**
 * The result cache's entries as people manage them (`valence cache ls|clear`): which there
 * are, which have expired, and removing them. Removing an entry never touches a dispatch: the
 * node whose output it reused keeps that output; later runs simply run again.
 */
import type { CacheEntry, Store } from "./store/store.js";

export interface CacheFilter {
  /** Only entries of the electron of this name. */
  readonly electron?: string | undefined;
  /** Only entries whose time to live has run out. */
  readonly expired?: boolean | undefined;
}

export const isExpired = (e: Pick<CacheEntry, "expiresAt">, now: number): boolean => e.expiresAt !== null && e.expiresAt <= now;

/** The entries `filter` picks, newest first. */
export async function findCacheEntries(store: Store, filter: CacheFilter, now: number): Promise<CacheEntry[]> {
  const all = await store.cacheEntries();
  return all.filter((e) => (filter.electron === undefined || e.electron === filter.electron) && (!filter.expired || isExpired(e, now)));
}

/** Removes the entries `filter` picks, in one write; says how many went. */
export async function clearCache(store: Store, filter: CacheFilter, now: number): Promise<number> {
  const gone = await findCacheEntries(store, filter, now);
  if (gone.length) await store.write((w) => w.cacheRemoved(gone.map((e) => e.key)));
  return gone.length;
}
