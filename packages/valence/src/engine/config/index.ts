/** Config: `valence.toml` plus `VALENCE_*` environment overrides, with each value's origin. */
export { loadConfig, executorSection } from "./load-config.js";
export type { LoadConfigOptions } from "./load-config.js";
export { formatConfig } from "./format-config.js";
export { configFileSchema } from "./schema.js";
export type { ConfigFile } from "./schema.js";
export { defaultConfigPath, defaultDataDir } from "./paths.js";
export type { ConfigOrigin, EffectiveConfig, ExecutorSection, Sourced } from "./types.js";
