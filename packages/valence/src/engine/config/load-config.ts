/**
 * Builds the effective configuration: defaults < config file < environment.
 * Every value keeps its origin so `valence config` can say why it is what it is.
 */
import path from "node:path";
import { absolutePath, defaultConfigPath, defaultDataDir } from "./paths.js";
import { readConfigFile } from "./read-file.js";
import { validateConfigFile, type ConfigFile } from "./schema.js";
import { parseStoreSetting, SQLITE, type StoreSetting } from "../store/store-setting.js";
import { ConfigValueError } from "../../errors.js";
import { OptionsError } from "../../sdk/options.js";
import { checkRetry } from "../../sdk/retry.js";
import { DEFAULT_RETENTION_EVERY_MS, parseAge, parseStatuses, PurgeOptionsError } from "../purge.js";
import type { DefaultRetry } from "../../sdk/trace.js";
import { traceSetting, type TraceSetting } from "../traces/trace-setting.js";
import type { ConfigOrigin, EffectiveConfig, ExecutorSection, RetentionConfig, Sourced } from "./types.js";

// Re-exported so callers that load the config get its type from the same module.
export type { EffectiveConfig } from "./types.js";

export interface LoadConfigOptions {
  /** Environment to read; defaults to `process.env`. Tests pass their own. */
  readonly env?: NodeJS.ProcessEnv;
  /** Config file to read instead of `$VALENCE_CONFIG` or the XDG location. */
  readonly path?: string;
  /** Directory that relative paths in `path` and in env variables resolve against; defaults to `process.cwd()`. */
  readonly cwd?: string;
}

/**
 * Loads the config. The file is `opts.path`, else `$VALENCE_CONFIG`, else
 * `$XDG_CONFIG_HOME/valence/valence.toml`; a missing file means defaults.
 * `VALENCE_DATA_DIR`, `VALENCE_EXECUTOR_DIRS` (a `path.delimiter`-separated
 * list that replaces the file's list), `VALENCE_DEFAULT_EXECUTOR` and `VALENCE_STORE` override
 * the file, and so do OpenTelemetry's `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (over `traces.endpoint`); an empty variable counts as unset.
 *
 * Throws `ConfigReadError`, `ConfigSyntaxError`, `ConfigValueError` or
 * `UnknownConfigKeyError`, each naming the file and the key to fix.
 *
 * @example
 * const cfg = loadConfig();
 * cfg.dataDir.value;   // "/home/me/.local/share/valence"
 * cfg.dataDir.origin;  // "default" | "file:/home/me/.config/valence/valence.toml" | "env:VALENCE_DATA_DIR"
 */
export function loadConfig(opts: LoadConfigOptions = {}): EffectiveConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const file = locate(opts, env, cwd);
  const table = readConfigFile(file.path);
  const parsed: ConfigFile = table ? validateConfigFile(table, file.path) : {};
  const fromFile: ConfigOrigin = `file:${file.path}`;
  const fileDir = path.dirname(file.path);

  const dataDir = pick<string>(
    envValue(env, "VALENCE_DATA_DIR", (v) => absolutePath(v, cwd, env)),
    parsed.data_dir === undefined ? undefined : { value: absolutePath(parsed.data_dir, fileDir, env), origin: fromFile },
    defaultDataDir(env),
  );
  const executorDirs = pick<readonly string[]>(
    envValue(env, "VALENCE_EXECUTOR_DIRS", (v) =>
      v.split(path.delimiter).filter((d) => d !== "").map((d) => absolutePath(d, cwd, env)),
    ),
    parsed.executor_dirs === undefined
      ? undefined
      : { value: parsed.executor_dirs.map((d) => absolutePath(d, fileDir, env)), origin: fromFile },
    [],
  );
  const defaultExecutor = pick<string>(
    envValue(env, "VALENCE_DEFAULT_EXECUTOR", (v) => v),
    parsed.default_executor === undefined ? undefined : { value: parsed.default_executor, origin: fromFile },
    "local",
  );
  const store = pick<StoreSetting>(
    envValue(env, "VALENCE_STORE", (v) => parseStoreSetting(v, "env:VALENCE_STORE")),
    parsed.store === undefined ? undefined : { value: parseStoreSetting(parsed.store, file.path), origin: fromFile },
    SQLITE,
  );
  const outputLimit = pick<number>(
    envValue(env, "VALENCE_OUTPUT_LIMIT", (v) => parseOutputLimit(v, "env:VALENCE_OUTPUT_LIMIT")),
    parsed.output_limit === undefined ? undefined : { value: parsed.output_limit, origin: fromFile },
    DEFAULT_OUTPUT_LIMIT,
  );
  const address = parsed.server?.address;
  const retention: Sourced<RetentionConfig | undefined> =
    parsed.retention === undefined ? { value: undefined, origin: "default" } : { value: retentionFromFile(parsed.retention, file.path), origin: fromFile };
  const retry: Sourced<DefaultRetry | undefined> =
    parsed.retry === undefined ? { value: undefined, origin: "default" } : { value: retryFromFile(parsed.retry, file.path), origin: fromFile };
  const fileEndpoint = parsed.traces?.endpoint;
  const traces = pick<TraceSetting | undefined>(
    envValue(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", (v) => traceSetting(v, "traces", "env:OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "traces.endpoint")) ??
      envValue(env, "OTEL_EXPORTER_OTLP_ENDPOINT", (v) => traceSetting(v, "base", "env:OTEL_EXPORTER_OTLP_ENDPOINT", "traces.endpoint")),
    fileEndpoint === undefined ? undefined : { value: traceSetting(fileEndpoint, "base", file.path, "traces.endpoint"), origin: fromFile },
    undefined,
  );

  // Null prototype: executor names are user-chosen, and "constructor" must not find Object's.
  const executors = Object.create(null) as Record<string, Sourced<ExecutorSection>>;
  for (const [name, section] of Object.entries(parsed.executors ?? {})) {
    executors[name] = { value: { ...section }, origin: fromFile };
  }

  return {
    file: { ...file, exists: table !== undefined },
    dataDir,
    executorDirs,
    defaultExecutor,
    outputLimit,
    retry,
    retention,
    store,
    traces,
    server: { address: address === undefined ? { value: undefined, origin: "default" } : { value: address, origin: fromFile } },
    executors,
  };
}

/**
 * The `[executors.NAME]` section for `name`, or `{}`.
 *
 * @example
 * executorSection(cfg, "ssh"); // { hostname: "gpu1", user: "me" }
 */
export function executorSection(cfg: EffectiveConfig, name: string): ExecutorSection {
  return Object.hasOwn(cfg.executors, name) ? (cfg.executors[name]?.value ?? {}) : {};
}

function locate(opts: LoadConfigOptions, env: NodeJS.ProcessEnv, cwd: string): Omit<EffectiveConfig["file"], "exists"> {
  if (opts.path !== undefined) return { path: absolutePath(opts.path, cwd, env), origin: "option" };
  const fromEnv = env["VALENCE_CONFIG"];
  if (fromEnv) return { path: absolutePath(fromEnv, cwd, env), origin: "env:VALENCE_CONFIG" };
  return { path: defaultConfigPath(env), origin: "default" };
}

/** The `[retry]` table as the electron option `retry` would be written, checked by the same rules. */
function retryFromFile(t: NonNullable<ConfigFile["retry"]>, source: string): DefaultRetry {
  const on = t.on?.map((s) => {
    const re = /^\/(.+)\/([a-z]*)$/.exec(s);
    if (!re) return s;
    try {
      return new RegExp(re[1] as string, re[2]);
    } catch (error) {
      throw new ConfigValueError(source, "retry.on", `has ${JSON.stringify(s)}, which is not a valid pattern: ${(error as Error).message}`);
    }
  });
  const backoff = { ...(t.backoff !== undefined && { initial: t.backoff }), ...(t.factor !== undefined && { factor: t.factor }), ...(t.jitter !== undefined && { jitter: t.jitter }) };
  try {
    const options = { attempts: t.attempts, backoff, ...(t.max_delay !== undefined && { maxDelay: t.max_delay }), ...(on && { on }) };
    return checkRetry("[retry]", options, (key) => RETRY_FILE_KEYS[key ?? ""] ?? key ?? "retry") as DefaultRetry;
  } catch (error) {
    if (!(error instanceof OptionsError)) throw error;
    throw new ConfigValueError(source, "retry", error.message);
  }
}

/** The option's keys as the `[retry]` table spells them. */
const RETRY_FILE_KEYS: Readonly<Record<string, string>> = { maxDelay: "max_delay", "backoff.initial": "backoff", "backoff.factor": "factor", "backoff.jitter": "jitter" };

/** The `[retention]` table with its ages read (`older_than = "30d"`), checked as `valence purge` checks them. */
function retentionFromFile(t: NonNullable<ConfigFile["retention"]>, source: string): RetentionConfig {
  const read = <T>(f: () => T): T => {
    try {
      return f();
    } catch (error) {
      if (!(error instanceof PurgeOptionsError)) throw error;
      throw new ConfigValueError(source, error.option, error.problem);
    }
  };
  const olderThanMs = read(() => parseAge(t.older_than, "retention.older_than"));
  const everyMs = t.every === undefined ? DEFAULT_RETENTION_EVERY_MS : read(() => parseAge(t.every as string, "retention.every"));
  if (everyMs < 1000) throw new ConfigValueError(source, "retention.every", `must be at least 1s, not ${JSON.stringify(t.every)}`);
  const statuses = t.status === undefined ? undefined : read(() => parseStatuses((t.status as string[]).join(","), "retention.status"));
  return { olderThanMs, everyMs, ...(statuses && { statuses }) };
}

/** 1 MiB: a task's stdout (and its stderr) beyond it is cut, with a marker (engine/run/live-output.ts). */
export const DEFAULT_OUTPUT_LIMIT = 1024 * 1024;

function parseOutputLimit(raw: string, source: string): number {
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1024) {
    throw new ConfigValueError(source, "output_limit", `must be a whole number of bytes of at least 1024, such as 1048576 (1 MiB), not ${JSON.stringify(raw)}`);
  }
  return n;
}

function envValue<T>(env: NodeJS.ProcessEnv, name: string, convert: (raw: string) => T): Sourced<T> | undefined {
  const raw = env[name];
  return raw ? { value: convert(raw), origin: `env:${name}` } : undefined;
}

function pick<T>(fromEnv: Sourced<T> | undefined, fromFile: Sourced<T> | undefined, fallback: T): Sourced<T> {
  return fromEnv ?? fromFile ?? { value: fallback, origin: "default" };
}
