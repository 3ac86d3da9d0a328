/**
 * The executor plugin registry: builtins, classes registered at runtime,
 * modules in the configured executor dirs, and npm packages that declare an
 * executor, each with where it came from. See `ExecutorRegistry` for the
 * contract; `createRegistry` builds one.
 */
import { ExecutorDefinitionError, UnknownExecutorError } from "../../errors.js";
import { executorFromSpec, isExecutor, type Executor, type ExecutorSpec } from "../../executor/executor.js";
import { globalRegistry, type ExecutorClass } from "../../sdk/global-registry.js";
import { executorSection, type EffectiveConfig } from "../config/load-config.js";
import { discoverDirPlugins } from "./dir-plugins.js";
import { executorClassName } from "./executor-class.js";
import { discoverNpmPlugins } from "./npm-plugins.js";
import { PluginEntry } from "./plugin-entry.js";
import type { DiscoveryProblem, ExecutorListing, ExecutorRegistry } from "./types.js";

export type { ExecutorRegistry } from "./types.js";

/** An executor that ships with the caller (the engine passes `inline` and `local`). */
export interface BuiltinExecutor {
  readonly name: string;
  readonly cls: ExecutorClass;
  readonly defaults?: Readonly<Record<string, unknown>>;
}

export interface CreateRegistryOptions {
  readonly config: EffectiveConfig;
  readonly builtins: readonly BuiltinExecutor[];
  /** Where the upward `node_modules` scan starts; defaults to `process.cwd()`. */
  readonly cwd?: string;
}

/**
 * Returns the registry. Discovery (reading package.json files, importing the
 * executor-dir modules, which must be imported to learn their names) runs the
 * first time a name is asked for that no builtin or runtime class answers, or
 * when the registry is listed: builtins come first in precedence, so a
 * dispatch on `inline` or `local` never waits for a `node_modules` scan.
 * npm plugins are imported on first `resolve`/`create`.
 * Discovery never throws for a bad plugin: it shows as `broken` in `list()`.
 *
 * @example
 * const registry = await createRegistry({ config: loadConfig(), builtins: [{ name: "local", cls: LocalExecutor }] });
 * const ssh = await registry.create("ssh", { hostname: "gpu1" });
 * const again = await registry.rebuild(ssh.toSpec());
 */
export async function createRegistry(opts: CreateRegistryOptions): Promise<ExecutorRegistry> {
  const cwd = opts.cwd ?? process.cwd();
  const discover = async (): Promise<Discovered> => {
    const [dirs, npm] = await Promise.all([discoverDirPlugins(opts.config.executorDirs.value), discoverNpmPlugins(cwd)]);
    return { entries: [...dirs.candidates, ...npm].map((c) => new PluginEntry(c)), problems: dirs.problems };
  };
  const builtins = opts.builtins.map(
    (b) =>
      new PluginEntry({
        name: b.name,
        named: true,
        origin: "builtin",
        location: undefined,
        status: "loaded",
        plugin: { cls: b.cls, defaults: { ...b.defaults } },
      }),
  );
  return new PluginRegistry(opts.config, builtins, discover);
}

/** What discovery found: executor-dir modules, then npm packages, in precedence order. */
interface Discovered {
  readonly entries: readonly PluginEntry[];
  readonly problems: readonly DiscoveryProblem[];
}

class PluginRegistry implements ExecutorRegistry {
  // Runtime classes are read live (a bundle may register them after discovery); one entry per class keeps them stable.
  private readonly runtimeEntries = new WeakMap<ExecutorClass, PluginEntry>();

  private discovery: Promise<Discovered> | undefined;

  constructor(
    private readonly config: EffectiveConfig,
    private readonly builtins: readonly PluginEntry[],
    private readonly discover: () => Promise<Discovered>,
  ) {}

  /** Discovery, run once (concurrent callers share it). */
  private discovered(): Promise<Discovered> {
    return (this.discovery ??= this.discover());
  }

  /** Builtin and runtime entries, in precedence order: they need no discovery. */
  private firstEntries(): PluginEntry[] {
    const runtime: PluginEntry[] = [];
    for (const [name, cls] of globalRegistry().executorClasses) {
      let entry = this.runtimeEntries.get(cls);
      if (entry?.name !== name) {
        const plugin = { cls, defaults: {} };
        entry = new PluginEntry({ name, named: true, origin: "runtime", location: undefined, status: "loaded", plugin });
        this.runtimeEntries.set(cls, entry);
      }
      runtime.push(entry);
    }
    return [...this.builtins, ...runtime];
  }

  /** All entries in precedence order. */
  private async entries(): Promise<PluginEntry[]> {
    const found = await this.discovered();
    return [...this.firstEntries(), ...found.entries];
  }

  /** The first entry per name: the one that name resolves to. */
  private static active(entries: readonly PluginEntry[]): Map<string, PluginEntry> {
    const byName = new Map<string, PluginEntry>();
    for (const e of entries) if (e.named && !byName.has(e.name)) byName.set(e.name, e);
    return byName;
  }

  async names(): Promise<string[]> {
    return [...PluginRegistry.active(await this.entries()).values()].filter((e) => !e.failure).map((e) => e.name).sort();
  }

  async list(): Promise<ExecutorListing[]> {
    const entries = await this.entries();
    const active = PluginRegistry.active(entries);
    return entries.map((e) => {
      const winner = active.get(e.name);
      const base = { name: e.name, origin: e.origin, location: e.location, defaults: this.defaultsOf(e) };
      if (e.failure) return { ...base, state: "broken", problem: e.failure.message };
      if (winner && winner !== e) return { ...base, state: "shadowed", problem: `shadowed by ${winner.origin}` };
      return { ...base, state: e.loaded ? "ready" : "not-loaded" };
    });
  }

  async problems(): Promise<readonly DiscoveryProblem[]> {
    return (await this.discovered()).problems;
  }

  async resolve(name: string): Promise<ExecutorClass> {
    const entry = await this.find(name);
    return (await entry.load()).cls;
  }

  async create(name: string, options: Readonly<Record<string, unknown>> = {}): Promise<Executor> {
    const entry = await this.find(name);
    const { cls } = await entry.load();
    const merged = { ...this.defaultsOf(entry), ...options };
    // The plugin convention is constructor(options); the class type cannot say so, hence the cast.
    const Ctor = cls as unknown as new (options: Record<string, unknown>) => unknown;
    let instance: unknown;
    try {
      instance = new Ctor(merged);
    } catch (error) {
      throw new ExecutorDefinitionError(
        `executor "${entry.name}" (${entry.origin}) could not be created from options ${safeJson(merged)}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    if (!isExecutor(instance)) {
      throw new ExecutorDefinitionError(
        `executor "${entry.name}" (${entry.origin}) built an object without execute() and toSpec(): extend BaseExecutor or AsyncBaseExecutor from "valence/executor"`,
      );
    }
    instance.validate?.();
    return instance;
  }

  async rebuild(spec: ExecutorSpec): Promise<Executor> {
    return executorFromSpec(await this.resolve(spec.plugin), spec);
  }

  private defaultsOf(entry: PluginEntry): Readonly<Record<string, unknown>> {
    return { ...entry.loaded?.defaults, ...executorSection(this.config, entry.name) };
  }

  /**
   * The entry for a registry name, else for a class name (what `toSpec()`
   * records when a class's name differs from its plugin name). Class names
   * of npm plugins are only known after import, so a miss imports them.
   */
  private async find(name: string): Promise<PluginEntry> {
    // A builtin or runtime name wins whatever discovery would find: no need to run it.
    const first = this.firstEntries().find((e) => e.named && e.name === name);
    if (first) return first;
    const active = PluginRegistry.active(await this.entries());
    const direct = active.get(name);
    if (direct) return direct;
    const byClassName = () => [...active.values()].find((e) => e.loaded && executorClassName(e.loaded.cls) === name);
    let found = byClassName();
    if (!found) {
      await Promise.allSettled([...active.values()].filter((e) => !e.loaded && !e.failure).map((e) => e.load()));
      found = byClassName();
    }
    if (!found) throw new UnknownExecutorError(name, await this.names());
    return found;
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
