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
 * Discovers plugins and returns the registry. Discovery reads package.json
 * files and imports the executor-dir modules (they must be imported to learn
 * their names); npm plugins are imported on first `resolve`/`create`.
 * Discovery never throws for a bad plugin: it shows as `broken` in `list()`.
 *
 * @example
 * const registry = await createRegistry({ config: loadConfig(), builtins: [{ name: "local", cls: LocalExecutor }] });
 * const ssh = await registry.create("ssh", { hostname: "gpu1" });
 * const again = await registry.rebuild(ssh.toSpec());
 */
export async function createRegistry(opts: CreateRegistryOptions): Promise<ExecutorRegistry> {
  const [dirs, npm] = await Promise.all([
    discoverDirPlugins(opts.config.executorDirs.value),
    discoverNpmPlugins(opts.cwd ?? process.cwd()),
  ]);
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
  const discovered = [...dirs.candidates, ...npm].map((c) => new PluginEntry(c));
  return new PluginRegistry(opts.config, builtins, discovered, dirs.problems);
}

class PluginRegistry implements ExecutorRegistry {
  // Runtime classes are read live (a bundle may register them after discovery); one entry per class keeps them stable.
  private readonly runtimeEntries = new WeakMap<ExecutorClass, PluginEntry>();

  constructor(
    private readonly config: EffectiveConfig,
    private readonly builtins: readonly PluginEntry[],
    private readonly discovered: readonly PluginEntry[],
    private readonly discoveryProblems: readonly DiscoveryProblem[],
  ) {}

  /** All entries in precedence order. */
  private entries(): PluginEntry[] {
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
    return [...this.builtins, ...runtime, ...this.discovered];
  }

  /** The first entry per name: the one that name resolves to. */
  private active(): Map<string, PluginEntry> {
    const byName = new Map<string, PluginEntry>();
    for (const e of this.entries()) if (e.named && !byName.has(e.name)) byName.set(e.name, e);
    return byName;
  }

  names(): string[] {
    return [...this.active().values()].filter((e) => !e.failure).map((e) => e.name).sort();
  }

  list(): ExecutorListing[] {
    const active = this.active();
    return this.entries().map((e) => {
      const winner = active.get(e.name);
      const base = { name: e.name, origin: e.origin, location: e.location, defaults: this.defaultsOf(e) };
      if (e.failure) return { ...base, state: "broken", problem: e.failure.message };
      if (winner && winner !== e) return { ...base, state: "shadowed", problem: `shadowed by ${winner.origin}` };
      return { ...base, state: e.loaded ? "ready" : "not-loaded" };
    });
  }

  problems(): readonly DiscoveryProblem[] {
    return this.discoveryProblems;
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
    const active = this.active();
    const direct = active.get(name);
    if (direct) return direct;
    const byClassName = () => [...active.values()].find((e) => e.loaded && executorClassName(e.loaded.cls) === name);
    let found = byClassName();
    if (!found) {
      await Promise.allSettled([...active.values()].filter((e) => !e.loaded && !e.failure).map((e) => e.load()));
      found = byClassName();
    }
    if (!found) throw new UnknownExecutorError(name, this.names());
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
