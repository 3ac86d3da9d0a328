/**
 * A trigger's spec, checked once at registration and normalized into what the store keeps:
 * a kind, its text (an absolute directory, a duration, a cron expression) and, for an
 * interval, its length in ms. Every refusal is a TriggerSpecError naming the field to fix.
 */
import { statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { Cron } from "croner";
import { TriggerSpecError } from "../../errors.js";
import type { TriggerKind, TriggerSpec } from "../../sdk/trigger-spec.js";

export interface NormalizedSpec {
  readonly kind: TriggerKind;
  /** The absolute directory (watch), the duration as written (every), or the cron expression. */
  readonly spec: string;
  /** Interval length (every); null otherwise. */
  readonly everyMs: number | null;
  /** The cron expression's IANA time zone; null: the server's. */
  readonly timezone: string | null;
}

/** Shorter intervals would start dispatches faster than a runner starts (≈ 100 ms each). */
export const MIN_EVERY_MS = 1000;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "30s", "5m", "1.5h", "2d", "1w", "250ms", or a number of ms → ms; anything else is refused. */
export function parseDuration(raw: string | number): number {
  let ms: number;
  if (typeof raw === "number") ms = raw;
  else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(raw);
    if (!m) {
      throw new TriggerSpecError("every", `every: "${raw}" is not a duration; write a number and a unit (ms, s, m, h, d, w), such as "30s" or "5m"`);
    }
    ms = Number(m[1]) * (UNITS[m[2] as string] as number);
  }
  if (!Number.isFinite(ms) || ms < MIN_EVERY_MS) {
    throw new TriggerSpecError("every", `every: ${JSON.stringify(raw)} is ${Number.isFinite(ms) ? `${ms} ms, shorter than the shortest interval, 1s` : "not a duration"}`);
  }
  return Math.round(ms);
}

/** A croner job that never runs by itself: only asked for its next times. */
export function cronOf(expr: string, timezone: string | null): Cron {
  try {
    return new Cron(expr, { paused: true, ...(timezone ? { timezone } : {}) });
  } catch (error) {
    const why = (error as Error).message;
    throw new TriggerSpecError(
      "cron",
      `cron: "${expr}"${timezone ? ` (time zone ${timezone})` : ""} is refused by croner: ${why}. Write five fields, minute hour day-of-month month day-of-week, such as "*/5 * * * *"`,
      { cause: error },
    );
  }
}

/**
 * Checks what can be checked anywhere (the duration, the cron expression) and resolves a
 * watched directory against `cwd`. Whether that directory exists is the server's question
 * (`checkWatchedDirectory`): the server is the one that watches it.
 */
export function normalizeSpec(input: TriggerSpec, cwd: string): NormalizedSpec {
  const given = Object.keys(input ?? {}).filter((k) => k === "watch" || k === "every" || k === "cron");
  if (given.length !== 1) {
    throw new TriggerSpecError("spec", `a trigger needs exactly one of watch (a directory), every (a duration) or cron (an expression); got ${given.length ? given.join(" and ") : "none"}`);
  }
  if ("watch" in input) {
    if (typeof input.watch !== "string" || !input.watch.trim()) throw new TriggerSpecError("watch", "watch: must be the path of a directory");
    return { kind: "watch", spec: isAbsolute(input.watch) ? resolve(input.watch) : resolve(cwd, input.watch), everyMs: null, timezone: null };
  }
  if ("every" in input) {
    const everyMs = parseDuration(input.every);
    // Kept as written, and a number of ms with its unit: the text reads back as the same duration.
    return { kind: "every", spec: typeof input.every === "number" ? `${everyMs}ms` : input.every.trim(), everyMs, timezone: null };
  }
  const expr = typeof input.cron === "string" ? input.cron.trim() : "";
  if (!expr) throw new TriggerSpecError("cron", "cron: must be a cron expression, such as \"*/5 * * * *\"");
  const timezone = input.timezone ?? null;
  const job = cronOf(expr, timezone);
  let next: Date | null;
  try {
    next = job.nextRun();
  } catch (error) {
    // croner checks the time zone only when it first works out a date.
    throw new TriggerSpecError("cron", `cron: the time zone "${timezone}" is refused: ${(error as Error).message}; write an IANA name such as "Europe/Paris"`, { cause: error });
  }
  if (next === null) throw new TriggerSpecError("cron", `cron: "${expr}" never runs again (no date matches it); check the day and month fields`);
  return { kind: "cron", spec: expr, everyMs: null, timezone };
}

/** The watched directory must exist, and be a directory, on the machine that watches it. */
export function checkWatchedDirectory(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new TriggerSpecError("watch", `watch: the directory ${dir} does not exist on the server's machine; create it first (a watch is refused rather than left waiting for it)`);
  }
  if (!isDir) throw new TriggerSpecError("watch", `watch: ${dir} is a file, not a directory; watch the directory it is in`);
}
