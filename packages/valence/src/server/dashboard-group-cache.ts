/** Shapes and statuses of the grouped dispatches the dashboard looks at, cached over the store. */
import type { DispatchRecord, NodeRecord } from "../engine/store/records.js";
import type { Store } from "../engine/store/store.js";
import { isTerminal } from "../status.js";
import { CACHE_MAX_NODES, computeShape, STATS_FRESH_MS, type GroupShape } from "./dashboard-groups.js";
import { computeStats, type GroupStats } from "./dashboard-group-stats.js";

interface Entry {
  readonly nodeCount: number;
  shape: Promise<GroupShape>;
  stats?: { readonly promise: Promise<GroupStats>; readonly at: number; readonly final: boolean };
  /** How long the last read of the statuses took (ms). */
  readMs: number;
}

/**
 * Shapes and statuses of the dispatches the dashboard looks at, over a store. The shape is
 * computed once per dispatch; statuses are read again when older than STATS_FRESH_MS or twice
 * the last read's time (one read in flight at a time per dispatch, shared by every request:
 * 100,000 nodes take a few hundred ms to read), and kept once the dispatch has ended. The least recently used entries go past CACHE_MAX_NODES.
 */
export class GroupCache {
  private readonly entries = new Map<string, Entry>();
  private cachedNodes = 0;

  constructor(
    private readonly store: Store,
    private readonly maxNodes = CACHE_MAX_NODES,
    private readonly freshMs = STATS_FRESH_MS,
  ) {}

  /** The shape and current statuses of `d` (as read just before). */
  async get(d: DispatchRecord): Promise<{ shape: GroupShape; stats: GroupStats }> {
    let entry = this.entries.get(d.id);
    if (entry && entry.nodeCount !== d.nodeCount) {
      this.drop(d.id);
      entry = undefined;
    }
    const now = Date.now();
    let fresh: NodeRecord[] | undefined;
    if (!entry) {
      const created: Entry = {
        nodeCount: d.nodeCount,
        readMs: 0,
        shape: (async () => {
          const [nodes, edges] = await Promise.all([this.store.getNodes(d.id), this.store.getEdges(d.id)]);
          fresh = nodes;
          return computeShape(nodes, edges);
        })(),
      };
      entry = created;
      this.entries.set(d.id, created);
      this.cachedNodes += d.nodeCount;
      this.evict();
      // A failed read is not kept.
      created.shape.catch(() => this.entries.get(d.id) === created && this.drop(d.id));
    } else {
      // Most recently used last.
      this.entries.delete(d.id);
      this.entries.set(d.id, entry);
    }
    const shape = await entry.shape;
    if (fresh) entry.readMs = Date.now() - now;
    const final = isTerminal(d.status);
    const cached = entry.stats;
    // A dispatch that has ended is read again once (its last changes may be newer than a read made while it ran).
    // Fresh for twice as long as reading them took: however many look, reading stays under a third of the server's time.
    const freshFor = Math.max(this.freshMs, 2 * entry.readMs);
    if (cached && (cached.final || (!final && now - cached.at < freshFor))) return { shape, stats: await cached.promise };
    const e = entry;
    const promise = fresh
      ? Promise.resolve(computeStats(shape, fresh, now))
      : this.store.getNodes(d.id).then((nodes) => {
          const stats = computeStats(shape, nodes);
          e.readMs = Date.now() - now;
          return stats;
        });
    entry.stats = { promise, at: now, final };
    promise.catch(() => e.stats?.promise === promise && (e.stats = undefined));
    return { shape, stats: await promise };
  }

  private drop(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    this.cachedNodes -= e.nodeCount;
  }

  private evict(): void {
    for (const id of this.entries.keys()) {
      if (this.cachedNodes <= this.maxNodes || this.entries.size <= 1) break;
      this.drop(id);
    }
  }
}
