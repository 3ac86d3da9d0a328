/** Renders the effective config for `valence config`. */
import { describeStore } from "../store/store-setting.js";
import type { EffectiveConfig, Sourced } from "./types.js";

// Executor sections may hold credentials; the design forbids secrets in logs, and terminal output is often pasted into issues.
const SECRET_KEY = /pass(word|phrase)?|secret|token|credential|api_?key|private_?key/i;

/**
 * One line per effective value — key, value, origin — aligned in columns,
 * after a header naming the config file. Option values whose key looks like a
 * secret (password, token, …) are masked.
 *
 * @example
 * console.log(formatConfig(loadConfig()));
 * // config file  /home/me/.config/valence/valence.toml (not found: defaults apply)
 * //
 * // data_dir          "/home/me/.local/share/valence"  default
 * // default_executor  "local"                          env:VALENCE_DEFAULT_EXECUTOR
 */
export function formatConfig(cfg: EffectiveConfig): string {
  const rows: Array<[string, string, string]> = [
    row("data_dir", cfg.dataDir),
    row("executor_dirs", cfg.executorDirs),
    row("default_executor", cfg.defaultExecutor),
    row("output_limit", cfg.outputLimit),
    ...(cfg.retry.value ? [row("retry", { value: { attempts: cfg.retry.value.retries + 1, ...cfg.retry.value.policy }, origin: cfg.retry.origin })] : []),
    ...(cfg.retention.value ? [row("retention", cfg.retention)] : []),
    ["store", JSON.stringify(describeStore(cfg.store.value)), cfg.store.origin],
    row("server.address", cfg.server.address),
    ["traces.endpoint", cfg.traces.value ? JSON.stringify(cfg.traces.value.url) : "(unset)", cfg.traces.origin],
  ];
  for (const name of Object.keys(cfg.executors).sort()) {
    const section = cfg.executors[name];
    if (!section) continue;
    const keys = Object.keys(section.value).sort();
    if (keys.length === 0) rows.push([`executors.${name}`, "{}", section.origin]);
    for (const key of keys) {
      const value = SECRET_KEY.test(key) ? '"********"' : show(section.value[key]);
      rows.push([`executors.${name}.${key}`, value, section.origin]);
    }
  }
  const keyWidth = Math.max(...rows.map(([k]) => k.length));
  const valueWidth = Math.max(...rows.map(([, v]) => v.length));
  const fileNote = cfg.file.exists ? "" : " (not found: defaults apply)";
  const fileOrigin = cfg.file.origin === "default" ? "" : ` [${cfg.file.origin}]`;
  return [
    `config file  ${cfg.file.path}${fileNote}${fileOrigin}`,
    "",
    ...rows.map(([k, v, o]) => `${k.padEnd(keyWidth)}  ${v.padEnd(valueWidth)}  ${o}`),
  ].join("\n");
}

function row(key: string, sourced: Sourced<unknown>): [string, string, string] {
  return [key, show(sourced.value), sourced.origin];
}

/** JSON-like, so strings are visibly quoted and an unset value reads as such. */
function show(value: unknown): string {
  if (value === undefined) return "(unset)";
  if (typeof value === "bigint") return String(value);
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)) ?? String(value);
}
