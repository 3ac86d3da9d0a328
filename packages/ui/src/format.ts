/** How times, durations and statuses read on screen. */
import type { Status } from "./api";

export const STATUSES: readonly Status[] = [
  "NEW_OBJECT",
  "PENDING_REUSE",
  "STARTING",
  "RUNNING",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "POSTPROCESSING",
  "PENDING_POSTPROCESSING",
];

export const TERMINAL: ReadonlySet<Status> = new Set(["COMPLETED", "FAILED", "CANCELLED"]);

export function statusLabel(s: Status): string {
  switch (s) {
    case "NEW_OBJECT":
      return "pending";
    case "PENDING_REUSE":
      return "reusing";
    case "STARTING":
      return "starting";
    case "RUNNING":
      return "running";
    case "COMPLETED":
      return "completed";
    case "FAILED":
      return "failed";
    case "CANCELLED":
      return "cancelled";
    case "POSTPROCESSING":
      return "post-processing";
    case "PENDING_POSTPROCESSING":
      return "to post-process";
    default: {
      const never: never = s;
      return String(never);
    }
  }
}

/** The colour family a status is drawn in (a CSS class suffix). */
export function statusTone(s: Status): "idle" | "active" | "done" | "failed" | "cancelled" {
  switch (s) {
    case "NEW_OBJECT":
    case "PENDING_REUSE":
    case "PENDING_POSTPROCESSING":
      return "idle";
    case "STARTING":
    case "RUNNING":
    case "POSTPROCESSING":
      return "active";
    case "COMPLETED":
      return "done";
    case "FAILED":
      return "failed";
    case "CANCELLED":
      return "cancelled";
    default: {
      const never: never = s;
      return never;
    }
  }
}

export function formatTime(ms: number | null): string {
  if (ms === null) return "—";
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return today ? time : `${d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" })} ${time}`;
}

export function formatDuration(start: number | null, end: number | null, now = Date.now()): string {
  if (start === null) return "—";
  const ms = (end ?? now) - start;
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
