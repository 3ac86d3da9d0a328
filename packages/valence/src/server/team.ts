/**
 * A server's part in a team of servers that share one database
 * (`Store.cluster`, Postgres). It holds a lease it renews by heartbeat, marks
 * the dispatches it receives as its own, takes over those of a server whose
 * lease ran out (a crash: they resume from the store, completed nodes kept,
 * their code bundles fetched from the database when that server was on
 * another machine: Supervisor.takeOver),
 * passes its runners' live changes to the other servers and theirs to its own
 * followers, and forwards a cancel to the server that drives the dispatch.
 */
import { hostname } from "node:os";
import type { DispatchId, ServerId } from "../ids.js";
import type { RunChange } from "../engine/run/run-types.js";
import type { Cluster, ServerRecord } from "../engine/store/cluster.js";
import type { EventHub } from "./event-hub.js";
import type { Supervisor } from "./supervisor.js";

/** How long a server's lease lasts without a heartbeat: a dead server's dispatches move on after about this long. */
export const DEFAULT_LEASE_MS = 4000;
/** The share of its lease after which a server that cannot renew it stops driving its dispatches. */
const FENCE_AT = 0.75;
/** Dispatches taken over per look: the rest wait for the next one (a second later). */
const CLAIMS_PER_LOOK = 20;

interface CancelCommand {
  readonly type: "cancel";
  readonly to: ServerId;
  readonly dispatchId: DispatchId;
  readonly nodes?: readonly number[];
}

export interface TeamOptions {
  readonly cluster: Cluster;
  readonly self: ServerRecord;
  readonly supervisor: Supervisor;
  readonly hub: EventHub;
  readonly leaseMs: number;
  readonly log: (line: string) => void;
  /**
   * The lease ran out, or is about to without a renewal in sight: other servers may drive its
   * dispatches now or soon, so this server must stop its runners at once.
   */
  readonly onLeaseLost: () => void;
}

export class TeamMember {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly stops: Array<() => unknown> = [];
  private looking = false;
  private beating = false;
  private left = false;
  private lost = false;
  /** When a heartbeat last renewed the lease (this process's monotonic clock). */
  private renewedAt = performance.now();

  private constructor(private readonly opts: TeamOptions) {}

  /** Joins the team, starts listening, and takes over what dead servers left (at once, then every second). */
  static async join(opts: TeamOptions): Promise<TeamMember> {
    const m = new TeamMember(opts);
    const { cluster, self, hub } = opts;
    await cluster.join(self, opts.leaseMs);
    m.stops.push(await cluster.subscribe("changes", self.id, (payload) => hub.relay(payload as RunChange)));
    m.stops.push(await cluster.subscribe("commands", self.id, (payload) => m.onCommand(payload as CancelCommand)));
    m.stops.push(
      hub.tap((change) => {
        cluster.broadcast("changes", self.id, change).catch((error: unknown) => opts.log(`team: cannot pass on a change of ${change.dispatchId}: ${(error as Error).message}`));
      }),
    );
    m.every(Math.max(100, Math.floor(opts.leaseMs / 4)), () => m.heartbeat());
    m.every(Math.min(1000, Math.max(100, Math.floor(opts.leaseMs / 4))), () => m.lookForOrphans());
    await m.lookForOrphans();
    return m;
  }

  /** A dispatch this server received: it drives it. */
  async claim(id: DispatchId): Promise<void> {
    await this.opts.cluster.claim(this.opts.self.id, id);
  }

  /** Asks the server that drives `id` to cancel it (or some of its nodes); false if no live server does. */
  async cancelElsewhere(id: DispatchId, nodes?: readonly number[]): Promise<boolean> {
    const owner = await this.opts.cluster.serverOf(id);
    if (!owner || owner.id === this.opts.self.id) return false;
    const command: CancelCommand = nodes ? { type: "cancel", to: owner.id, dispatchId: id, nodes } : { type: "cancel", to: owner.id, dispatchId: id };
    await this.opts.cluster.broadcast("commands", this.opts.self.id, command);
    return true;
  }

  /** Stops listening and leaves: its unfinished dispatches can be taken at once. Call after the runners have stopped. */
  async leave(): Promise<void> {
    if (this.left) return;
    this.left = true;
    for (const t of this.timers) clearInterval(t);
    for (const stop of this.stops.splice(0)) await stop();
    await this.opts.cluster.leave(this.opts.self.id);
  }

  private every(ms: number, job: () => Promise<void>): void {
    const t = setInterval(() => void job(), ms);
    t.unref();
    this.timers.push(t);
  }

  private async heartbeat(): Promise<void> {
    if (this.beating || this.left || this.lost) return;
    this.beating = true;
    const sent = performance.now();
    try {
      if (await this.opts.cluster.heartbeat(this.opts.self.id, this.opts.leaseMs)) {
        this.renewedAt = sent;
      } else {
        this.opts.log(`team: this server's lease ran out before it was renewed; other servers may drive its dispatches now`);
        this.lose();
      }
    } catch (error) {
      // A dropped connection: the next beat tries again, and the lease covers the gap. Unless
      // it is nearly over: then this server stops driving before another may start, rather
      // than after (its runners' writes could otherwise land on dispatches another drives).
      this.opts.log(`team: heartbeat failed: ${(error as Error).message}`);
      if (performance.now() - this.renewedAt > this.opts.leaseMs * FENCE_AT) {
        this.opts.log(`team: no heartbeat got through for ${Math.round(performance.now() - this.renewedAt)} ms of a ${this.opts.leaseMs} ms lease; stopping before another server takes over`);
        this.lose();
      }
    } finally {
      this.beating = false;
    }
  }

  private lose(): void {
    if (this.lost || this.left) return;
    this.lost = true;
    for (const t of this.timers) clearInterval(t);
    this.opts.onLeaseLost();
  }

  private async lookForOrphans(): Promise<void> {
    if (this.looking || this.left || this.lost) return;
    this.looking = true;
    try {
      const claimed = await this.opts.cluster.claimOrphans(this.opts.self.id, CLAIMS_PER_LOOK);
      for (const c of claimed) {
        const from = c.previous ? `server ${c.previous.id} (${c.previous.url})` : "a server that is gone";
        this.opts.log(`team: taking over ${c.id} from ${from}`);
        // Its runner may still be alive on this host; its lock is in that server's data dir.
        const previousDir = c.previous && c.previous.host === hostname() ? c.previous.dataDir : undefined;
        await this.opts.supervisor.takeOver(c.id, previousDir);
      }
    } catch (error) {
      this.opts.log(`team: cannot look for dispatches to take over: ${(error as Error).message}`);
    } finally {
      this.looking = false;
    }
  }

  private onCommand(c: CancelCommand): void {
    if (c.type !== "cancel" || c.to !== this.opts.self.id) return;
    if (!this.opts.supervisor.cancel(c.dispatchId, c.nodes)) this.opts.log(`team: asked to cancel ${c.dispatchId}, which no runner here has`);
  }
}
