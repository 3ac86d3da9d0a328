/**
 * When an interval or cron trigger fires: pure functions of its schedule, what it has already
 * fired, and the time now. No timers here (server/triggers/time-trigger.ts sets them), so the
 * catch-up policy is tested without waiting.
 *
 * Catch-up policy: the ticks missed while the server was down (or its event loop was busy)
 * fire ONCE, as soon as it can, with the time of the latest missed tick; then the schedule
 * goes on from now. Ticks while a trigger was paused are skipped, not caught up (resuming
 * re-arms it from the moment it resumed).
 */
import { cronOf } from "./trigger-spec.js";

export interface TimeSchedule {
  readonly kind: "every" | "cron";
  readonly everyMs: number | null;
  /** The cron expression (cron). */
  readonly spec: string;
  readonly timezone: string | null;
  /** Intervals count from here (the trigger's creation): ticks at anchor + k × everyMs. */
  readonly anchor: number;
}

/** Missed cron ticks looked through to find the latest; past this many, the last one seen stands in. */
const MAX_CRON_STEPS = 100_000;

/** The first tick strictly after `after` (ms), or null when the schedule has none. */
export function tickAfter(s: TimeSchedule, after: number): number | null {
  if (s.kind === "every") {
    const every = s.everyMs as number;
    const k = after < s.anchor ? 0 : Math.floor((after - s.anchor) / every) + 1;
    return s.anchor + k * every;
  }
  const next = cronOf(s.spec, s.timezone).nextRun(new Date(after));
  return next ? next.getTime() : null;
}

/** The latest tick at or before `now` that comes after `after`; null when there is none. */
function latestTick(s: TimeSchedule, after: number, now: number): number | null {
  if (s.kind === "every") {
    const every = s.everyMs as number;
    if (now < s.anchor) return null;
    const t = s.anchor + Math.floor((now - s.anchor) / every) * every;
    return t > after ? t : null;
  }
  const job = cronOf(s.spec, s.timezone);
  let latest: number | null = null;
  let at = after;
  for (let i = 0; i < MAX_CRON_STEPS; i++) {
    const next = job.nextRun(new Date(at));
    if (!next || next.getTime() > now) break;
    latest = at = next.getTime();
  }
  return latest;
}

export interface TickPlan {
  /** A tick due now (the latest one missed, when several were): fire it. */
  readonly fire: number | null;
  /** The next tick after the one fired (or after `done` when none is): when to look again. */
  readonly next: number | null;
}

/**
 * What to do at `now`, given that every tick at or before `done` has been fired or skipped
 * (done = the later of the last fired tick and the moment the trigger was armed).
 */
export function planTicks(s: TimeSchedule, done: number, now: number): TickPlan {
  const fire = latestTick(s, done, now);
  return { fire, next: tickAfter(s, fire ?? done) };
}
