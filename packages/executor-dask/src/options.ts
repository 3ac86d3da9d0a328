/** The Dask executor's options, their defaults and their checks. */
import { existsSync } from "node:fs";
import { ExecutorDefinitionError, type RemoteExecutorOptions } from "valence/executor";

export interface DaskExecutorOptions extends RemoteExecutorOptions {
  /** The scheduler of an existing Dask cluster, e.g. `tcp://127.0.0.1:8786`. Required. */
  readonly schedulerAddress: string;
  /** The Python that runs the bridge; it needs `distributed`. Default `/usr/bin/python3` if it exists, else `python3`. */
  readonly python?: string;
  /** `node` on the workers. Default `node` (found on the worker's PATH). */
  readonly nodePath?: string;
  /** Seconds to wait for the scheduler to answer. Default 10. */
  readonly connectTimeout?: number;
  /** Where task packages are unpacked on a worker. Default a `valence` dir in the worker's local directory. */
  readonly workerWorkdir?: string;
  /**
   * How a worker runs tasks. "runner" (default): in persistent runners, a
   * `node` process per worker thread and bundle that takes task after task
   * (a task costs a line each way over a pipe). "process": a fresh `node`
   * process per task (node's start and the bundle's import each time, about
   * 100–150 ms), for tasks that must not share a process with other tasks
   * (global state, native modules that crash, process.exit).
   */
  readonly isolation?: DaskIsolation;
}

export type DaskIsolation = "runner" | "process";

const ISOLATIONS: readonly DaskIsolation[] = ["runner", "process"];

/** Defaults applied when the executor is created by name (`executor: "dask"`); the class applies the same ones itself. */
export const executorPluginDefaults = { nodePath: "node", connectTimeout: 10, isolation: "runner" } as const;

/** What the bridge needs, with defaults filled in. */
export interface BridgeConfig {
  readonly schedulerAddress: string;
  readonly python: string;
  readonly connectTimeout: number;
}

/** The bridge's interpreter: Debian's own Python carries python3-distributed; the first `python3` on PATH may not. */
export function defaultPython(): string {
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

export function bridgeConfig(options: DaskExecutorOptions): BridgeConfig {
  return {
    schedulerAddress: options.schedulerAddress,
    python: options.python ?? defaultPython(),
    connectTimeout: options.connectTimeout ?? executorPluginDefaults.connectTimeout,
  };
}

/** Throws `ExecutorDefinitionError` naming the first bad option. */
export function checkOptions(options: Partial<DaskExecutorOptions>): void {
  const bad = (what: string) => new ExecutorDefinitionError(`dask executor: ${what}`);
  const address = options.schedulerAddress;
  if (typeof address !== "string" || address.trim() === "") {
    throw bad(
      `schedulerAddress is required (the Dask scheduler, e.g. "tcp://127.0.0.1:8786"), got ${JSON.stringify(address)}: ` +
        `pass it to new DaskExecutor({ schedulerAddress }) or set it in the config's [executors.dask] section`,
    );
  }
  for (const key of ["python", "nodePath", "workerWorkdir"] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== "string" || value === "")) {
      throw bad(`${key} must be a non-empty string, got ${JSON.stringify(value)}`);
    }
  }
  const timeout = options.connectTimeout;
  if (timeout !== undefined && !(typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0)) {
    throw bad(`connectTimeout must be a number of seconds above 0, got ${String(timeout)}`);
  }
  const isolation = options.isolation;
  if (isolation !== undefined && !ISOLATIONS.includes(isolation)) {
    throw bad(
      `isolation must be "runner" (persistent node runners, the default) or "process" (a node process per task), got ${JSON.stringify(isolation)}`,
    );
  }
}
