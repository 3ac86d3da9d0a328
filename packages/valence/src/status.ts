/** Statuses of dispatches and nodes, with Covalent's names. */
export const STATUSES = [
  "NEW_OBJECT",
  "PENDING_REUSE",
  "STARTING",
  "RUNNING",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "POSTPROCESSING",
  "PENDING_POSTPROCESSING",
] as const;
export type Status = (typeof STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<Status> = new Set(["COMPLETED", "FAILED", "CANCELLED"]);
export const isTerminal = (s: Status): boolean => TERMINAL_STATUSES.has(s);

/** For the end of every `switch` on a closed union. */
export function assertNever(x: never, what = "value"): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}
