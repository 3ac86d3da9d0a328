/**
 * The ssh executor's options, their defaults, and the one check that names
 * every bad one at once (options often come from a config file, where a typo
 * would otherwise be silently ignored).
 */
import { ExecutorDefinitionError, type RemoteExecutorOptions } from "valence/executor";
import type { SshTarget } from "./ssh-target.js";

export interface SSHExecutorOptions extends RemoteExecutorOptions, SshTarget {
  /** The host to run tasks on. Required. */
  readonly hostname: string;
  /** Where tasks' files go on the host; relative paths start at the remote home. Default `.cache/valence`. */
  readonly remoteWorkdir?: string;
  /** The `node` the host runs tasks with (Node.js 20 or later). Default `node`, found on the remote PATH. */
  readonly nodePath?: string;
  /**
   * How tasks run on the host. "runner" (default): in persistent runners, a
   * node process per bundle that takes task after task (a task costs a line
   * each way). "process": a node process per task (node's start and the
   * bundle's import each time, tens of ms), for tasks that must not share a
   * process with other tasks (global state, native modules that crash).
   */
  readonly isolation?: "runner" | "process";
  /** The most runners on the host at once. Default: as many as the connection's task channels (maxSessions - 4). */
  readonly maxRunners?: number;
  /** Tasks one runner runs at once. Default 1, so tasks on a host run side by side in separate processes. */
  readonly tasksPerRunner?: number;
}

/**
 * Defaults the plugin registry applies under `[executors.ssh]` and explicit
 * options; the executor applies the same ones when an option is unset.
 */
export const executorPluginDefaults = {
  port: 22,
  remoteWorkdir: ".cache/valence",
  nodePath: "node",
  isolation: "runner",
  tasksPerRunner: 1,
  connectTimeout: 10,
  pollFreq: 1,
} as const;

const KNOWN = [
  "hostname",
  "port",
  "username",
  "sshKeyFile",
  "knownHostsFile",
  "remoteWorkdir",
  "nodePath",
  "connectTimeout",
  "maxSessions",
  "pollFreq",
  "maxConcurrency",
  "isolation",
  "maxRunners",
  "tasksPerRunner",
] as const;

/** Throws `ExecutorDefinitionError` listing every problem with `options`. */
export function checkOptions(options: Readonly<Record<string, unknown>>): void {
  const problems: string[] = [];
  for (const key of Object.keys(options)) {
    if (!(KNOWN as readonly string[]).includes(key)) problems.push(`unknown option "${key}" (known: ${KNOWN.join(", ")})`);
  }
  const { hostname, port, connectTimeout, maxSessions, pollFreq, maxConcurrency } = options;
  if (!(typeof hostname === "string" && /^[^\s@]+$/.test(hostname))) {
    problems.push(`hostname must be the host's name or address (without user@), got ${show(hostname)}`);
  }
  if (port !== undefined && !(Number.isInteger(port) && (port as number) > 0 && (port as number) < 65536)) {
    problems.push(`port must be a TCP port number, got ${show(port)}`);
  }
  for (const key of ["username", "sshKeyFile", "knownHostsFile", "remoteWorkdir", "nodePath"] as const) {
    const value = options[key];
    if (value !== undefined && !(typeof value === "string" && value.trim() !== "")) problems.push(`${key} must be a non-empty string, got ${show(value)}`);
  }
  if (connectTimeout !== undefined && !(typeof connectTimeout === "number" && connectTimeout > 0)) {
    problems.push(`connectTimeout must be a number of seconds above 0, got ${show(connectTimeout)}`);
  }
  if (maxSessions !== undefined && !(Number.isInteger(maxSessions) && (maxSessions as number) >= 4)) {
    problems.push(`maxSessions must be the server's MaxSessions, a whole number of at least 4, got ${show(maxSessions)}`);
  }
  if (pollFreq !== undefined && !(typeof pollFreq === "number" && pollFreq > 0)) {
    problems.push(`pollFreq must be a number of seconds above 0, got ${show(pollFreq)}`);
  }
  if (maxConcurrency !== undefined && !(Number.isInteger(maxConcurrency) && (maxConcurrency as number) >= 1)) {
    problems.push(`maxConcurrency must be a whole number of at least 1, got ${show(maxConcurrency)}`);
  }
  const { isolation } = options;
  if (isolation !== undefined && isolation !== "runner" && isolation !== "process") {
    problems.push(`isolation must be "runner" (persistent runners, the default) or "process" (a node process per task), got ${show(isolation)}`);
  }
  for (const key of ["maxRunners", "tasksPerRunner"] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && (value as number) >= 1)) problems.push(`${key} must be a whole number of at least 1, got ${show(value)}`);
  }
  if (problems.length > 0) throw new ExecutorDefinitionError(`ssh executor: ${problems.join("; ")}`);
}

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
