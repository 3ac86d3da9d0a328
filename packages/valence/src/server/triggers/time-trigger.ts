/**
 * An interval or cron trigger while it runs: one timer, set for its next tick. What to fire is
 * planned by engine/triggers/schedule.ts from what the store says is done, so a restarted
 * server fires a missed tick once (the latest) and never one that already fired.
 */
import { planTicks, type TimeSchedule } from "../../engine/triggers/schedule.js";
import type { TriggerRecord } from "../../engine/store/triggers.js";

/** setTimeout's longest delay; a tick further off is waited for in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export function scheduleOf(t: TriggerRecord): TimeSchedule {
  return { kind: t.kind as "every" | "cron", everyMs: t.everyMs, spec: t.spec, timezone: t.timezone, anchor: t.createdAt };
}

/** Every tick at or before this is done: the last one fired, or the moment the trigger was armed (created, resumed). */
export const doneUpTo = (t: TriggerRecord): number => Math.max(t.lastTick ?? Number.NEGATIVE_INFINITY, t.armedAt);

export class TimeTrigger {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private done: number;
  private checking: Promise<void> | undefined;
  /** When the next tick is due (null: never again). */
  next: number | null = null;

  constructor(
    private readonly t: TriggerRecord,
    /** Fires the tick; resolves once its fire is claimed and its dispatch stored (or refused). */
    private readonly fire: (tick: number) => Promise<void>,
  ) {
    this.done = doneUpTo(t);
  }

  start(): void {
    void this.check();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.checking;
  }

  private check(): Promise<void> {
    this.checking ??= this.checkOnce().finally(() => {
      this.checking = undefined;
      this.arm();
    });
    return this.checking;
  }

  private async checkOnce(): Promise<void> {
    if (this.stopped) return;
    const plan = planTicks(scheduleOf(this.t), this.done, Date.now());
    this.next = plan.next;
    if (plan.fire === null) return;
    // Done before it is fired: a failed fire (the store down) is not tried again and again; it is logged.
    this.done = plan.fire;
    await this.fire(plan.fire);
  }

  private arm(): void {
    if (this.stopped || this.next === null) return;
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, this.next - Date.now()));
    this.timer = setTimeout(() => void this.check(), delay);
  }
}
