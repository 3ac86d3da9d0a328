/**
 * What counts as an executor class, and how a plugin module's exports are
 * read. Structural checks, not `instanceof`: a plugin may carry its own copy
 * of the SDK, or none at all.
 */
import { ExecutorPluginError } from "../../errors.js";
import type { ExecutorClass } from "../../sdk/global-registry.js";
import type { LoadedPlugin } from "./types.js";

/** A constructor whose instances have `execute` (any executor) or `run` (BaseExecutor style). */
export function isExecutorClass(value: unknown): value is ExecutorClass {
  if (typeof value !== "function") return false;
  const proto = (value as { prototype?: unknown }).prototype as Record<string, unknown> | null | undefined;
  return typeof proto === "object" && proto !== null && (typeof proto["execute"] === "function" || typeof proto["run"] === "function");
}

/** The name `toSpec()` records for instances of `cls`: its static `pluginName`, else the class name. */
export function executorClassName(cls: ExecutorClass): string {
  const named = cls as unknown as { pluginName?: unknown; name: string };
  return typeof named.pluginName === "string" ? named.pluginName : named.name;
}

/**
 * Reads a plugin module's exports: `executorPluginName`, the class, and
 * `executorPluginDefaults`. Returns `undefined` for a module that is no
 * plugin (no `executorPluginName` and no `expectedName`).
 *
 * The class is the export named like the plugin, else the default export,
 * else the only exported executor class. `expectedName` is the name an npm
 * package declares; the module must agree with it if it exports a name too.
 *
 * @example
 * readPlugin(await import(url), "/plugins/timing.mjs"); // { name: "timing", cls: TimingExecutor, defaults: {} }
 */
export function readPlugin(
  moduleExports: Record<string, unknown>,
  file: string,
  expectedName?: string,
): (LoadedPlugin & { name: string }) | undefined {
  const ns = commonJsExports(moduleExports);
  const declared = ns["executorPluginName"];
  if (declared === undefined && expectedName === undefined) return undefined;
  if (declared !== undefined && (typeof declared !== "string" || declared === "")) {
    throw new ExecutorPluginError(file, `executorPluginName must be a non-empty string, not ${JSON.stringify(declared)}`);
  }
  if (expectedName !== undefined && declared !== undefined && declared !== expectedName) {
    throw new ExecutorPluginError(
      file,
      `package.json declares executor "${expectedName}" but the module exports executorPluginName "${declared}": make them the same`,
    );
  }
  const name = declared ?? (expectedName as string);
  return { name, cls: pickClass(ns, name, file), defaults: pickDefaults(ns, file) };
}

/**
 * A CommonJS module (including TypeScript that tsx's API loads as CommonJS)
 * arrives as `{ default: module.exports, ...named }`, so its ESM default
 * export sits at `default.default`. Flatten that so both shapes read alike.
 */
function commonJsExports(ns: Record<string, unknown>): Record<string, unknown> {
  const d = ns["default"];
  if (typeof d === "object" && d !== null && !Array.isArray(d) && ("executorPluginName" in d || "default" in d)) {
    return { ...ns, ...(d as Record<string, unknown>) };
  }
  return ns;
}

function pickClass(ns: Record<string, unknown>, name: string, file: string): ExecutorClass {
  const direct = ns[name];
  if (direct !== undefined) {
    if (isExecutorClass(direct)) return direct;
    throw new ExecutorPluginError(file, `export "${name}" is not an executor class (its prototype has no execute or run method)`);
  }
  if (isExecutorClass(ns["default"])) return ns["default"];
  const classes = Object.entries(ns).filter(([k, v]) => k !== "default" && isExecutorClass(v));
  const [only] = classes;
  if (classes.length === 1 && only) return only[1] as ExecutorClass;
  const how = `export a class named "${name}", or make the executor class the default export`;
  if (classes.length > 1) {
    throw new ExecutorPluginError(file, `exports several executor classes (${classes.map(([k]) => k).join(", ")}): ${how}`);
  }
  throw new ExecutorPluginError(
    file,
    `exports executorPluginName "${name}" but no executor class (a class with a run or execute method): ${how}`,
  );
}

function pickDefaults(ns: Record<string, unknown>, file: string): Readonly<Record<string, unknown>> {
  const defaults = ns["executorPluginDefaults"];
  if (defaults === undefined) return {};
  if (typeof defaults !== "object" || defaults === null || Array.isArray(defaults)) {
    throw new ExecutorPluginError(file, `executorPluginDefaults must be an object of constructor options, not ${JSON.stringify(defaults)}`);
  }
  return { ...(defaults as Record<string, unknown>) };
}
