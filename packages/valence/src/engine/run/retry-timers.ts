/**
 * The clock the scheduler does not have: one timer per node whose failed try waits out its
 * backoff, telling the run when the node is due (the scheduler's "due" event).
 */
export class RetryTimers {
  private readonly timers = new Map<number, NodeJS.Timeout>();

  constructor(private readonly due: (node: number) => void) {}

  /** `node` is due in `ms` (at once when that has passed, as for a due time stored before a restart). */
  after(node: number, ms: number): void {
    this.cancel(node);
    const timer = setTimeout(() => {
      this.timers.delete(node);
      this.due(node);
    }, Math.max(0, ms));
    this.timers.set(node, timer);
  }

  /** A node settled while it waited (cancelled): its timer has nothing left to do. */
  cancel(node: number): void {
    const timer = this.timers.get(node);
    if (timer) clearTimeout(timer);
    this.timers.delete(node);
  }

  /** The run has ended: no node is due any more. */
  clear(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
