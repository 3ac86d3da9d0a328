/** The executor plugin registry: discovery, lazy loading, creation and rebuilding of executors by name. */
export { createRegistry } from "./registry.js";
export type { BuiltinExecutor, CreateRegistryOptions } from "./registry.js";
export { isExecutorClass, executorClassName } from "./executor-class.js";
export type {
  DiscoveryProblem,
  ExecutorListing,
  ExecutorRegistry,
  PluginOrigin,
  PluginState,
} from "./types.js";
