/**
 * Counts the session channels open on one SSH connection. OpenSSH refuses
 * more than `MaxSessions` (10 by default) with "open failed", so commands
 * past the limit wait here instead.
 *
 * Two lanes: `long` channels (a running task holds one until it exits) may
 * take only part of the capacity, so short commands — a `kill` that cancels
 * a task, an `sbatch`, a cleanup — always find a channel even when every
 * task slot is busy.
 */

export type Lane = "short" | "long";

interface Waiter {
  readonly lane: Lane;
  readonly grant: (release: () => void) => void;
}

export class ChannelLimiter {
  private inUse = 0;
  private longInUse = 0;
  private peak = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    /** Channels open at once, both lanes together. */
    readonly capacity: number,
    /** Of those, how many `long` channels. */
    readonly longCapacity: number,
  ) {
    if (!(capacity >= 1 && longCapacity >= 1 && longCapacity <= capacity)) {
      throw new RangeError(`channel limits must satisfy 1 <= long (${longCapacity}) <= capacity (${capacity})`);
    }
  }

  /** The most channels ever open at once (tests check the limit held). */
  get maxInUse(): number {
    return this.peak;
  }

  /** Channels open now. */
  get open(): number {
    return this.inUse;
  }

  /** Whether a channel of `lane` would have to wait now. */
  wouldWait(lane: Lane): boolean {
    return this.waiting.length > 0 || !this.fits(lane);
  }

  /**
   * Resolves with a release function once a channel of `lane` may open.
   * An abort while waiting rejects with the signal's reason.
   */
  acquire(lane: Lane, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    // Waiters are granted as soon as they fit, so any still waiting do not fit now: no one is overtaken.
    if (this.fits(lane)) return Promise.resolve(this.take(lane));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        lane,
        grant: (release) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(release);
        },
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private fits(lane: Lane): boolean {
    return this.inUse < this.capacity && (lane === "short" || this.longInUse < this.longCapacity);
  }

  private take(lane: Lane): () => void {
    this.inUse++;
    if (lane === "long") this.longInUse++;
    this.peak = Math.max(this.peak, this.inUse);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse--;
      if (lane === "long") this.longInUse--;
      this.grantWaiting();
    };
  }

  /** First come, first served, except that a waiting task never blocks a short command behind it. */
  private grantWaiting(): void {
    for (let i = 0; i < this.waiting.length && this.inUse < this.capacity; ) {
      const waiter = this.waiting[i] as Waiter;
      if (!this.fits(waiter.lane)) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      waiter.grant(this.take(waiter.lane));
    }
  }
}
