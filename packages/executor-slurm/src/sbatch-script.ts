/**
 * The batch script of one task: `#SBATCH` lines from the options, the
 * environment, the prerun commands, the task command, the postrun commands.
 * Pure text in, text out: tested without Slurm.
 */
import { shellQuote, taskCommand, type TaskPackage } from "valence/executor";
import { NAMED_SBATCH_FLAGS, type SlurmExecutorOptions } from "./options.js";

/** Files the job itself writes into the task's directory, beside `task.json` and `result.json`. */
export const JOB_FILES = {
  script: "job.sbatch",
  /** Slurm's own stdout and stderr of the job: prerun and postrun output, shell errors. */
  out: "slurm.out",
  err: "slurm.err",
} as const;

export interface ScriptInput {
  readonly options: SlurmExecutorOptions;
  readonly pkg: TaskPackage;
  /** Absolute working directory on the cluster (see `remoteWorkdir`). */
  readonly workdir: string;
}

/** Exit code of the job when a prerun command fails: the task did not run. */
export const PRERUN_FAILED_EXIT = 97;

/**
 * Writes the sbatch script for `pkg`.
 *
 * @example
 * sbatchScript({ options: { partition: "debug", time: 10 }, pkg, workdir: "/scratch/me/valence" });
 * // #!/bin/bash
 * // #SBATCH --job-name=valence-3-add
 * // #SBATCH --output=/scratch/me/valence/tasks/dsp_…/3-1a2b3c4d/slurm.out
 * // …
 */
export function sbatchScript({ options, pkg, workdir }: ScriptInput): string {
  const taskDir = `${workdir}/${pkg.taskDir}`;
  return batchScript(options, {
    flags: sbatchFlags(options, pkg, taskDir),
    commandComment: "# The task: its own stdout and stderr go to the task's log files.",
    command: taskCommand(pkg, workdir, options.nodePath ?? "node"),
    postrunDir: taskDir,
  });
}

export interface PilotScriptInput {
  readonly options: SlurmExecutorOptions;
  /** Absolute working directory on the cluster. */
  readonly workdir: string;
  /** Absolute directory of the pilots' queue (inbox, outbox, cancel, pilots/JOBID). */
  readonly poolDir: string;
  /** The runner file, relative to `workdir`. */
  readonly runner: string;
  readonly idleSeconds: number;
  readonly slots: number;
}

/** Where a pilot job's own stdout and stderr go (`%j` is its job id). */
export function pilotLogFiles(poolDir: string): { out: string; err: string } {
  return { out: `${poolDir}/logs/pilot-%j.out`, err: `${poolDir}/logs/pilot-%j.err` };
}

/**
 * The script of a pilot job: the same flags, environment and prerun/postrun
 * commands as a task's job, running `valence-task --pilot` instead of one task.
 */
export function pilotScript({ options, workdir, poolDir, runner, idleSeconds, slots }: PilotScriptInput): string {
  const logs = pilotLogFiles(poolDir);
  const command =
    `cd ${shellQuote(workdir)} && ${shellQuote(options.nodePath ?? "node")} ${shellQuote(runner)} --pilot ${shellQuote(poolDir)}` +
    ` --name "$SLURM_JOB_ID" --idle ${idleSeconds} --slots ${slots}`;
  return batchScript(options, {
    flags: jobFlags(options, { name: "valence-pilot", out: logs.out, err: logs.err, chdir: workdir }),
    commandComment: "# The pilot: runs the tasks put in its queue until idle or stopped; its log is the job's output.",
    command,
    postrunDir: workdir,
  });
}

interface ScriptBody {
  readonly flags: Array<[string, string | true]>;
  readonly commandComment: string;
  readonly command: string;
  readonly postrunDir: string;
}

function batchScript(options: SlurmExecutorOptions, body: ScriptBody): string {
  const lines = ["#!/bin/bash"];
  for (const [flag, value] of body.flags) lines.push(`#SBATCH ${flagText(flag, value)}`);
  lines.push("");
  const env = Object.entries(options.env ?? {});
  if (env.length > 0) {
    lines.push("# Environment from the executor's `env` option.");
    for (const [name, value] of env) lines.push(`export ${name}=${shellQuote(value)}`);
    lines.push("");
  }
  const prerun = options.prerunCommands ?? [];
  if (prerun.length > 0) {
    lines.push("# prerunCommands: the job stops at the first that fails, before the task runs.");
    for (const command of prerun) {
      lines.push(`${command}`);
      lines.push(`__valence_rc=$?; if [ "$__valence_rc" -ne 0 ]; then echo "valence: prerun command failed with exit code $__valence_rc: "${shellQuote(oneLine(command))} >&2; exit ${PRERUN_FAILED_EXIT}; fi`);
    }
    lines.push("");
  }
  lines.push(body.commandComment);
  lines.push(body.command);
  lines.push("__valence_status=$?");
  const postrun = options.postrunCommands ?? [];
  if (postrun.length > 0) {
    lines.push("");
    lines.push("# postrunCommands: run whatever the task's outcome; the job keeps the task's exit code.");
    lines.push(`cd ${shellQuote(body.postrunDir)}`);
    for (const command of postrun) lines.push(command);
  }
  lines.push(`exit $__valence_status`);
  return lines.join("\n") + "\n";
}

/** The job's flags in script order: the executor's own, the named options, then `sbatchOptions`. */
export function sbatchFlags(options: SlurmExecutorOptions, pkg: TaskPackage, taskDir: string): Array<[string, string | true]> {
  return jobFlags(options, { name: jobName(pkg), out: `${taskDir}/${JOB_FILES.out}`, err: `${taskDir}/${JOB_FILES.err}`, chdir: taskDir });
}

function jobFlags(options: SlurmExecutorOptions, own: { name: string; out: string; err: string; chdir: string }): Array<[string, string | true]> {
  const extra = options.sbatchOptions ?? {};
  const flags: Array<[string, string | true]> = [];
  if (extra["job-name"] === undefined) flags.push(["job-name", own.name]);
  flags.push(["output", own.out], ["error", own.err], ["chdir", own.chdir]);
  for (const [option, flag] of Object.entries(NAMED_SBATCH_FLAGS)) {
    const value = options[option as keyof typeof NAMED_SBATCH_FLAGS];
    if (value !== undefined) flags.push([flag, String(value)]);
  }
  for (const [flag, value] of Object.entries(extra)) {
    if (value === false) continue;
    flags.push([flag, value === true ? true : String(value)]);
  }
  return flags;
}

/** `valence-<node id>-<electron name>`, in the characters every Slurm tool prints cleanly. */
export function jobName(pkg: TaskPackage): string {
  const name = pkg.electronName.replace(/[^A-Za-z0-9_.-]+/g, "_").slice(0, 60);
  return `valence-${String(pkg.meta.nodeId)}${name ? `-${name}` : ""}`;
}

/** sbatch reads `#SBATCH` values up to the first blank unless double-quoted, with `\"` and `\\` inside quotes. */
function flagText(flag: string, value: string | true): string {
  if (value === true) return `--${flag}`;
  if (/^[\w@%+=:,./-]+$/.test(value)) return `--${flag}=${value}`;
  return `--${flag}="${value.replace(/["\\]/g, "\\$&")}"`;
}

function oneLine(command: string): string {
  const first = command.split("\n")[0] ?? "";
  return first.length > 80 || command.includes("\n") ? `${first.slice(0, 80)}…` : first;
}
