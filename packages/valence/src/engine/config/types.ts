import type { StoreSetting } from "../store/store-setting.js";
import type { Status } from "../../status.js";
import type { DefaultRetry } from "../../sdk/trace.js";
import type { TraceSetting } from "../traces/trace-setting.js";

/** The `[retention]` table, checked: ages in milliseconds. */
export interface RetentionConfig {
  readonly olderThanMs: number;
  readonly statuses?: readonly Status[] | undefined;
  readonly everyMs: number;
}

/** Where an effective config value came from, shown by `valence config`. */
export type ConfigOrigin = "default" | `file:${string}` | `env:${string}`;

/** A config value together with its origin. */
export interface Sourced<T> {
  readonly value: T;
  readonly origin: ConfigOrigin;
}

/** Options for one executor, from a `[executors.NAME]` section: passed to its constructor. */
export type ExecutorSection = Readonly<Record<string, unknown>>;

/**
 * The configuration in force: defaults, overlaid by the config file, overlaid
 * by `VALENCE_*` environment variables. Paths are absolute.
 */
export interface EffectiveConfig {
  /** The config file that was looked for; `exists: false` means defaults (and env) apply. */
  readonly file: {
    readonly path: string;
    readonly exists: boolean;
    /** Why this path: the default location, `$VALENCE_CONFIG`, or the caller's `path` option. */
    readonly origin: "default" | "env:VALENCE_CONFIG" | "option";
  };
  readonly dataDir: Sourced<string>;
  readonly executorDirs: Sourced<readonly string[]>;
  readonly defaultExecutor: Sourced<string>;
  /** Bytes of stdout and of stderr kept per task (`output_limit`, `VALENCE_OUTPUT_LIMIT`); the rest is cut, marked. */
  readonly outputLimit: Sourced<number>;
  /** `[retry]`: the retry policy of electrons whose lattice and selves set none. */
  readonly retry: Sourced<DefaultRetry | undefined>;
  /** `[retention]`: a server purges finished dispatches older than this (engine/purge.ts). */
  readonly retention: Sourced<RetentionConfig | undefined>;
  /** Where dispatches are stored: the data dir's SQLite file (default) or a Postgres database. */
  readonly store: Sourced<StoreSetting>;
  readonly server: {
    /** `host:port` of a running `valence start`; unset means dispatches run embedded. */
    readonly address: Sourced<string | undefined>;
  };
  /**
   * Where OpenTelemetry traces go (OTLP/HTTP): `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else
   * `OTEL_EXPORTER_OTLP_ENDPOINT`, else the file's `traces.endpoint`; unset means no traces.
   */
  readonly traces: Sourced<TraceSetting | undefined>;
  /** `[executors.NAME]` sections by executor name (a null-prototype record; use `executorSection`). */
  readonly executors: Readonly<Record<string, Sourced<ExecutorSection>>>;
}
