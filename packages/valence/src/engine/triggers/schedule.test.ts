import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { planTicks, tickAfter, type TimeSchedule } from "./schedule.js";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const every = (ms: number): TimeSchedule => ({ kind: "every", everyMs: ms, spec: `${ms}ms`, timezone: null, anchor: T0 });
const cron = (expr: string): TimeSchedule => ({ kind: "cron", everyMs: null, spec: expr, timezone: "UTC", anchor: T0 });

describe("tick planning", () => {
  it("counts interval ticks from the anchor, strictly after the time given", () => {
    const s = every(30_000);
    assert.equal(tickAfter(s, T0 - 5), T0);
    assert.equal(tickAfter(s, T0), T0 + 30_000);
    assert.equal(tickAfter(s, T0 + 29_999), T0 + 30_000);
    assert.equal(tickAfter(s, T0 + 30_000), T0 + 60_000);
  });

  it("asks croner for cron ticks, strictly after the time given", () => {
    const s = cron("*/5 * * * *");
    assert.equal(tickAfter(s, T0), T0 + 5 * 60_000);
    assert.equal(tickAfter(s, T0 - 1), T0);
    assert.equal(tickAfter(cron("0 0 30 2 *"), T0), null, "February 30 never comes");
  });

  it("fires nothing before the next tick, and says when it is", () => {
    assert.deepEqual(planTicks(every(30_000), T0, T0 + 10_000), { fire: null, next: T0 + 30_000 });
  });

  it("fires a tick that is due, then waits for the one after", () => {
    assert.deepEqual(planTicks(every(30_000), T0, T0 + 30_000), { fire: T0 + 30_000, next: T0 + 60_000 });
    assert.deepEqual(planTicks(every(30_000), T0, T0 + 30_250), { fire: T0 + 30_000, next: T0 + 60_000 });
  });

  it("catches up many missed ticks with ONE fire, of the latest missed tick", () => {
    // Down from just after the tick at +30 s until +10 min 5 s: 19 ticks missed.
    assert.deepEqual(planTicks(every(30_000), T0 + 30_000, T0 + 605_000), { fire: T0 + 600_000, next: T0 + 630_000 });
    assert.deepEqual(planTicks(cron("*/5 * * * *"), T0, T0 + 62 * 60_000), { fire: T0 + 60 * 60_000, next: T0 + 65 * 60_000 });
  });

  it("never fires a tick at or before the one already done (a restart at once fires nothing again)", () => {
    assert.deepEqual(planTicks(every(30_000), T0 + 30_000, T0 + 30_000), { fire: null, next: T0 + 60_000 });
    assert.deepEqual(planTicks(cron("*/5 * * * *"), T0 + 5 * 60_000, T0 + 5 * 60_000 + 10), { fire: null, next: T0 + 10 * 60_000 });
  });
});
