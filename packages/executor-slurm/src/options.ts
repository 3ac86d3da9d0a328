/**
 * The options of `SlurmExecutor`, and their one check. Options are the
 * executor's whole travelling state (they go through the store as JSON and
 * may come from the config file's `[executors.slurm]` table), so they are
 * plain data, checked once per use rather than trusted.
 */
import { ExecutorDefinitionError, type RemoteExecutorOptions } from "valence/executor";

/** Where to reach a login node when jobs are submitted over SSH. */
export interface SlurmSshOptions {
  readonly hostname: string;
  /** Default 22. */
  readonly port?: number;
  /** Default: the local user's name. */
  readonly username?: string;
  /** Private key file for the login; default `~/.ssh/id_ed25519`, else `~/.ssh/id_rsa`, else the ssh-agent, as `ssh` does. */
  readonly sshKeyFile?: string;
  /** `known_hosts` file the host key is checked against; default `~/.ssh/known_hosts`. */
  readonly knownHostsFile?: string;
  /** Seconds to wait for the TCP connection and the SSH handshake together; default 10. */
  readonly connectTimeout?: number;
  /** The server's `MaxSessions` (channels per connection); default 10, OpenSSH's default. */
  readonly maxSessions?: number;
}

/** A value of `sbatchOptions`: `true` is a bare flag (`--exclusive`), `false` leaves it out. */
export type SbatchOptionValue = string | number | boolean;

export interface SlurmExecutorOptions extends RemoteExecutorOptions {
  /** `--partition`; default: the cluster's default partition. */
  readonly partition?: string;
  /** `--time`: minutes, or a Slurm time string such as `"30"`, `"1:30:00"`, `"2-00:00:00"`. */
  readonly time?: string | number;
  /** `--cpus-per-task`. */
  readonly cpusPerTask?: number;
  /** `--mem`: megabytes, or a string with a unit such as `"4G"`. */
  readonly memory?: string | number;
  /** `--account`. */
  readonly account?: string;
  /** Any other sbatch flags, by long name without dashes: `{ qos: "high", exclusive: true }` → `--qos=high --exclusive`. */
  readonly sbatchOptions?: Readonly<Record<string, SbatchOptionValue>>;
  /** Shell lines run in the job before the task (`module load nodejs/20`); the job stops if one fails. */
  readonly prerunCommands?: readonly string[];
  /** Shell lines run in the job after the task, whatever its outcome. */
  readonly postrunCommands?: readonly string[];
  /** The `node` that runs the task on the compute node; default `"node"` (from the job's PATH). */
  readonly nodePath?: string;
  /**
   * A directory on the cluster's shared file system, seen alike by the
   * submitting host and the compute nodes. Default `~/.cache/valence` (the
   * login user's home over SSH). `~/` and relative paths start at that home.
   */
  readonly remoteWorkdir?: string;
  /** Extra environment for sbatch, squeue, scontrol and scancel, exported in the job script too (`{ SLURM_CONF: "/etc/slurm/other.conf" }`). */
  readonly env?: Readonly<Record<string, string>>;
  /** Submit from a login node over SSH (the ssh plugin's connection) instead of this machine. */
  readonly ssh?: SlurmSshOptions;
  /**
   * How tasks become jobs. `"job"` (default): one Slurm job per task, each
   * paying sbatch, scheduling and a node start. `"pilot"`: pilot jobs that
   * stay up and run task after task from a queue on the shared file system;
   * the job's `time`, `memory` and `cpusPerTask` are then the pilot's, shared
   * by the tasks it runs (see the README, "Pilot jobs").
   */
  readonly isolation?: "job" | "pilot";
  /** Pilot mode: seconds a pilot waits without a task before it exits and releases its allocation. Default 60. */
  readonly pilotIdle?: number;
  /** Pilot mode: tasks one pilot runs at once, each in its own process. Default 1 (each task has the whole job's cpus and memory). */
  readonly tasksPerPilot?: number;
  /** Pilot mode: the most pilot jobs at once (running or queued). Default: no limit (as many as queued tasks need). */
  readonly maxPilots?: number;
}

/** sbatch flags this executor sets itself: a task could not be found or read back if they changed. */
export const RESERVED_SBATCH_KEYS: ReadonlySet<string> = new Set(["output", "error", "chdir", "wrap", "parsable", "array"]);

/** Named options and the sbatch flag each one sets. */
export const NAMED_SBATCH_FLAGS = {
  partition: "partition",
  time: "time",
  cpusPerTask: "cpus-per-task",
  memory: "mem",
  account: "account",
} as const satisfies Partial<Record<keyof SlurmExecutorOptions, string>>;

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  ...Object.keys(NAMED_SBATCH_FLAGS),
  "sbatchOptions",
  "prerunCommands",
  "postrunCommands",
  "nodePath",
  "remoteWorkdir",
  "env",
  "ssh",
  "pollFreq",
  "maxConcurrency",
  "isolation",
  "pilotIdle",
  "tasksPerPilot",
  "maxPilots",
]);
const KNOWN_SSH_OPTIONS: ReadonlySet<string> = new Set(["hostname", "port", "username", "sshKeyFile", "knownHostsFile", "connectTimeout", "maxSessions"]);

/** A long option name as sbatch spells it, without the leading dashes. */
const SBATCH_KEY = /^[a-z][a-z-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** minutes | minutes:seconds | hours:minutes:seconds | days-hours[:minutes[:seconds]] | UNLIMITED */
const SLURM_TIME = /^(?:\d+(?::\d+){0,2}|\d+-\d+(?::\d+){0,2}|unlimited|infinite)$/i;
const SLURM_MEMORY = /^\d+[KMGT]?$/i;
/** No whitespace: these become one `#SBATCH` word. */
const WORD = /^\S+$/;

/**
 * Checks every option and throws one `ExecutorDefinitionError` naming the
 * option to fix. Unknown option names are refused too: a typo such as
 * `cpus_per_task` would otherwise be silently ignored.
 */
export function checkOptions(options: SlurmExecutorOptions): void {
  const problems: string[] = [];
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN_OPTIONS.has(key) && o[key] !== undefined) problems.push(`unknown option "${key}" (known: ${[...KNOWN_OPTIONS].join(", ")})`);
  }
  const word = (key: string) => {
    const v = o[key];
    if (v !== undefined && !(typeof v === "string" && WORD.test(v))) problems.push(`${key} must be a non-empty string without spaces, got ${show(v)}`);
  };
  word("partition");
  word("account");
  if (options.time !== undefined && !isTime(options.time)) {
    problems.push(`time must be minutes or a Slurm time such as "30", "1:30:00" or "2-00:00:00", got ${show(options.time)}`);
  }
  if (options.cpusPerTask !== undefined && !(Number.isInteger(options.cpusPerTask) && options.cpusPerTask > 0)) {
    problems.push(`cpusPerTask must be a whole number above 0, got ${show(options.cpusPerTask)}`);
  }
  if (options.memory !== undefined && !isMemory(options.memory)) {
    problems.push(`memory must be megabytes or a size such as "512M" or "4G", got ${show(options.memory)}`);
  }
  checkSbatchOptions(options, problems);
  for (const key of ["prerunCommands", "postrunCommands"] as const) {
    const v = options[key];
    if (v !== undefined && !(Array.isArray(v) && v.every((line) => typeof line === "string"))) {
      problems.push(`${key} must be an array of shell command strings, got ${show(v)}`);
    }
  }
  for (const key of ["nodePath", "remoteWorkdir"] as const) {
    const v = options[key];
    if (v !== undefined && !(typeof v === "string" && v.trim() !== "" && !/[\n%]/.test(v))) {
      problems.push(`${key} must be a non-empty path without newlines or "%", got ${show(v)}`);
    }
  }
  checkEnv(options.env, problems);
  checkSsh(options.ssh, problems);
  checkPilot(options, problems);
  if (problems.length > 0) throw new ExecutorDefinitionError(`slurm executor: ${problems.join("; ")}`);
}

function checkSbatchOptions(options: SlurmExecutorOptions, problems: string[]): void {
  const map = options.sbatchOptions;
  if (map === undefined) return;
  if (!isPlainObject(map)) {
    problems.push(`sbatchOptions must be an object of flag names to values, got ${show(map)}`);
    return;
  }
  const named = new Map<string, string>(Object.entries(NAMED_SBATCH_FLAGS).map(([option, flag]) => [flag, option]));
  for (const [key, value] of Object.entries(map)) {
    if (!SBATCH_KEY.test(key)) {
      problems.push(`sbatchOptions key ${show(key)} is not an sbatch long option name ([a-z-]+, without the leading "--", e.g. "qos" or "gres")`);
    } else if (RESERVED_SBATCH_KEYS.has(key)) {
      problems.push(`sbatchOptions may not set "${key}": the executor sets --${key} itself to find the task's files`);
    } else if (named.has(key) && options[named.get(key) as keyof SlurmExecutorOptions] !== undefined) {
      problems.push(`--${key} is set twice, by the option "${named.get(key)}" and by sbatchOptions: keep one`);
    }
    const okValue =
      typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value)) || (typeof value === "string" && !/[\r\n]/.test(value));
    if (!okValue) problems.push(`sbatchOptions["${key}"] must be a string without newlines, a number or a boolean, got ${show(value)}`);
  }
}

function checkPilot(options: SlurmExecutorOptions, problems: string[]): void {
  const { isolation, pilotIdle } = options;
  if (isolation !== undefined && isolation !== "job" && isolation !== "pilot") {
    problems.push(`isolation must be "job" (a Slurm job per task, the default) or "pilot" (pilot jobs that run many tasks), got ${show(isolation)}`);
  }
  if (pilotIdle !== undefined && !(typeof pilotIdle === "number" && Number.isFinite(pilotIdle) && pilotIdle > 0)) {
    problems.push(`pilotIdle must be a number of seconds above 0, got ${show(pilotIdle)}`);
  }
  for (const key of ["tasksPerPilot", "maxPilots"] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isInteger(v) && (v as number) > 0)) problems.push(`${key} must be a whole number above 0, got ${show(v)}`);
  }
}

function checkEnv(env: unknown, problems: string[]): void {
  if (env === undefined) return;
  if (!isPlainObject(env)) {
    problems.push(`env must be an object of variable names to string values, got ${show(env)}`);
    return;
  }
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) problems.push(`env name ${show(name)} is not a shell variable name`);
    if (typeof value !== "string") problems.push(`env.${name} must be a string, got ${show(value)}`);
  }
}

function checkSsh(ssh: unknown, problems: string[]): void {
  if (ssh === undefined) return;
  if (!isPlainObject(ssh)) {
    problems.push(`ssh must be an object such as { hostname: "login1", username: "me" }, got ${show(ssh)}`);
    return;
  }
  const s = ssh as Record<string, unknown>;
  for (const key of Object.keys(s)) if (!KNOWN_SSH_OPTIONS.has(key)) problems.push(`unknown ssh option "${key}" (known: ${[...KNOWN_SSH_OPTIONS].join(", ")})`);
  if (!(typeof s["hostname"] === "string" && s["hostname"] !== "")) problems.push(`ssh.hostname must be the login node's host name, got ${show(s["hostname"])}`);
  const port = s["port"];
  if (port !== undefined && !(Number.isInteger(port) && (port as number) > 0 && (port as number) < 65536)) problems.push(`ssh.port must be a port number, got ${show(port)}`);
  for (const key of ["username", "sshKeyFile", "knownHostsFile"]) {
    const v = s[key];
    if (v !== undefined && !(typeof v === "string" && v !== "")) problems.push(`ssh.${key} must be a non-empty string, got ${show(v)}`);
  }
  const timeout = s["connectTimeout"];
  if (timeout !== undefined && !(typeof timeout === "number" && timeout > 0)) problems.push(`ssh.connectTimeout must be seconds above 0, got ${show(timeout)}`);
  const sessions = s["maxSessions"];
  if (sessions !== undefined && !(Number.isInteger(sessions) && (sessions as number) >= 3)) problems.push(`ssh.maxSessions must be a whole number of at least 3, got ${show(sessions)}`);
}

function isTime(v: unknown): boolean {
  if (typeof v === "number") return Number.isInteger(v) && v > 0;
  return typeof v === "string" && SLURM_TIME.test(v);
}

function isMemory(v: unknown): boolean {
  if (typeof v === "number") return Number.isInteger(v) && v > 0;
  return typeof v === "string" && SLURM_MEMORY.test(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
