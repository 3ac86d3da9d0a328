/**
 * Checks electron and lattice options where they are written, so a mistake is
 * reported at the line that made it. Hand-written rather than a schema library
 * on purpose: this file travels inside every task bundle.
 */
import { ValenceError } from "../errors.js";
import { isExecutor } from "../executor/executor.js";
import type { ExecutorRef } from "./graph.js";

export class OptionsError extends ValenceError {
  override readonly code = "INVALID_OPTIONS";
}

export function checkExecutorRef(where: string, value: unknown): ExecutorRef | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && value.length > 0) return value;
  if (isExecutor(value)) return value;
  throw new OptionsError(
    `${where}: "executor" must be an executor name such as "local" or an executor instance, got ${describe(value)}`,
  );
}

export function checkCount(where: string, key: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
  throw new OptionsError(`${where}: "${key}" must be a whole number ≥ 0, got ${describe(value)}`);
}

export function checkDuration(where: string, key: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  throw new OptionsError(`${where}: "${key}" must be a number of milliseconds > 0, got ${describe(value)}`);
}

export function checkName(where: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && value.trim().length > 0) return value;
  throw new OptionsError(`${where}: "name" must be a non-empty string, got ${describe(value)}`);
}

export function checkKnownKeys(where: string, options: object, known: readonly string[]): void {
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) throw new OptionsError(`${where}: unknown option "${k}" (known: ${known.join(", ")})`);
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return `${typeof v} ${JSON.stringify(v)}`;
}
