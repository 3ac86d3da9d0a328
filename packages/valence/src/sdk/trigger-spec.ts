/**
 * What a trigger listens to, as the user writes it: `{ watch: "./inbox" }`, `{ every: "30s" }`
 * or `{ cron: "*\/5 * * * *" }`. Checked and normalized in engine/triggers/trigger-spec.ts.
 */
export type TriggerSpec =
  /** New or changed files under this directory (recursively): each dispatches the lattice with the file's absolute path. */
  | { readonly watch: string }
  /** An interval: a duration such as "30s", "5m", "1h", "1d" (or milliseconds). Each tick dispatches the lattice with the tick's time (ISO string). */
  | { readonly every: string | number }
  /** A cron expression (5 or 6 fields, croner's syntax), in the server's time zone unless `timezone` says. */
  | { readonly cron: string; readonly timezone?: string };

export type TriggerKind = "watch" | "every" | "cron";
