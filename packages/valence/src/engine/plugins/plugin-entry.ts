/** One executor the registry knows, and the state of loading it. */
import type { LoadedPlugin, PluginCandidate, PluginOrigin } from "./types.js";

/**
 * Wraps a discovery candidate so that its module is imported at most once,
 * even when several tasks ask for it at the same moment, and so that a
 * failure is remembered and shown by `list()` instead of retried.
 */
export class PluginEntry {
  readonly name: string;
  readonly named: boolean;
  readonly origin: PluginOrigin;
  readonly location: string | undefined;
  private plugin: LoadedPlugin | undefined;
  private error: Error | undefined;
  private pending: Promise<LoadedPlugin> | undefined;
  private readonly loader: (() => Promise<LoadedPlugin>) | undefined;

  constructor(candidate: PluginCandidate) {
    this.name = candidate.name;
    this.named = candidate.named;
    this.origin = candidate.origin;
    this.location = candidate.location;
    if (candidate.status === "loaded") this.plugin = candidate.plugin;
    else if (candidate.status === "broken") this.error = candidate.error;
    else this.loader = candidate.load;
  }

  /** The loaded plugin, if it has been loaded. */
  get loaded(): LoadedPlugin | undefined {
    return this.plugin;
  }

  /** Why it cannot be used, once that is known. */
  get failure(): Error | undefined {
    return this.error;
  }

  load(): Promise<LoadedPlugin> {
    if (this.plugin) return Promise.resolve(this.plugin);
    if (this.error) return Promise.reject(this.error);
    this.pending ??= (this.loader as () => Promise<LoadedPlugin>)().then(
      (plugin) => (this.plugin = plugin),
      (error: unknown) => {
        this.error = error instanceof Error ? error : new Error(String(error));
        throw this.error;
      },
    );
    return this.pending;
  }
}
