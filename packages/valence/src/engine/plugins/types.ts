import type { Executor, ExecutorSpec } from "../../executor/executor.js";
import type { ExecutorClass } from "../../sdk/global-registry.js";

/**
 * Where an executor came from: `builtin`, `runtime` (registered in this
 * process with `registerExecutorClass`), `npm:<package>@<version>`, or
 * `dir:<absolute file>` (a module in one of the config's `executor_dirs`).
 */
export type PluginOrigin = "builtin" | "runtime" | `npm:${string}` | `dir:${string}`;

/**
 * - `ready`: its class is loaded.
 * - `not-loaded`: declared by an npm package; imported on first use, so listing stays cheap.
 * - `broken`: unusable; `problem` says why.
 * - `shadowed`: another source provides the same name first; `problem` says which.
 */
export type PluginState = "ready" | "not-loaded" | "broken" | "shadowed";

/** One row of `valence executors`. */
export interface ExecutorListing {
  /** Registry name; for a module that could not be read, its file name. */
  readonly name: string;
  readonly origin: PluginOrigin;
  /** The plugin's file or package directory; undefined for builtin and runtime classes. */
  readonly location: string | undefined;
  /**
   * Options `create(name)` would pass: the plugin's `executorPluginDefaults`
   * (known once loaded) overlaid by the config's `[executors.NAME]` section.
   */
  readonly defaults: Readonly<Record<string, unknown>>;
  readonly state: PluginState;
  readonly problem?: string;
}

/** Something discovery could not attribute to one executor, such as a missing executor dir. */
export interface DiscoveryProblem {
  readonly where: string;
  readonly message: string;
}

/** What a plugin module provides once imported. */
export interface LoadedPlugin {
  readonly cls: ExecutorClass;
  readonly defaults: Readonly<Record<string, unknown>>;
}

/**
 * A plugin found by discovery: already loaded (builtins, executor-dir
 * modules), known broken, or loaded on first use (npm packages; the registry
 * calls `load` at most once).
 */
export type PluginCandidate = {
  readonly name: string;
  /** False when a module failed before telling its name: `name` is then its file name and resolves nothing. */
  readonly named: boolean;
  readonly origin: PluginOrigin;
  readonly location: string | undefined;
} & (
  | { readonly status: "loaded"; readonly plugin: LoadedPlugin }
  | { readonly status: "broken"; readonly error: Error }
  | { readonly status: "lazy"; readonly load: () => Promise<LoadedPlugin> }
);

/**
 * Every executor this process can use by name. Build one with `createRegistry`.
 *
 * Name precedence, first wins: builtin, runtime, executor dirs (in config
 * order, files sorted), npm packages (nearest `node_modules` first). Builtins
 * come first so that an installed package cannot take over `local`.
 */
export interface ExecutorRegistry {
  /** Names that resolve (not broken, not shadowed), sorted. Imports no npm plugin (executor-dir modules load at discovery). */
  names(): Promise<string[]>;
  /** Every executor found, shadowed and broken ones included, in precedence order. Imports no npm plugin. */
  list(): Promise<ExecutorListing[]>;
  /** Discovery problems that belong to no single executor (an executor dir that does not exist). */
  problems(): Promise<readonly DiscoveryProblem[]>;
  /**
   * The class for `name`, importing its module on first use. Also accepts the
   * class's own name (`static pluginName` or class name), which is what
   * `toSpec()` records. Throws `UnknownExecutorError` listing the known names,
   * or `ExecutorPluginError` if the plugin is broken.
   */
  resolve(name: string): Promise<ExecutorClass>;
  /**
   * A new executor: `new Cls(options)` with one options object, merged from
   * the plugin's `executorPluginDefaults` < config `[executors.NAME]` <
   * `options` (shallow). Plugin classes must take `constructor(options)`;
   * classes with other signatures are built by the user and passed as instances.
   */
  create(name: string, options?: Readonly<Record<string, unknown>>): Promise<Executor>;
  /** Rebuilds a stored executor from its spec, without its constructor; config defaults do not apply. */
  rebuild(spec: ExecutorSpec): Promise<Executor>;
}
