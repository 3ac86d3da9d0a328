/**
 * Short, Covalent-like text for values in `Result.toString()` and node names:
 * `[3, 4]`, `{a: 1}`, strings bare at the top level and quoted inside.
 */
import { inspect } from "node:util";

export function formatValue(value: unknown, top = true): string {
  if (value === null || value === undefined) return top ? "None" : String(value);
  if (typeof value === "string") return top ? value : JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value !== "object") return String(value);
  if (Array.isArray(value)) return `[${value.map((v) => formatValue(v, false)).join(", ")}]`;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto === Object.prototype || proto === null) {
    const entries = Object.entries(value as Record<string, unknown>);
    return `{${entries.map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${formatValue(v, false)}`).join(", ")}}`;
  }
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return inspect(value, { breakLength: Infinity, depth: 4 });
}

/** `formatValue`, cut to `max` characters (for node names and tables). */
export function formatShort(value: unknown, max = 40): string {
  const s = formatValue(value);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
