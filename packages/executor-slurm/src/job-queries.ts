/**
 * The Slurm client command lines this executor runs, and parsers of what
 * they print. No I/O here: `ClusterShell` runs the lines.
 */
import { shellQuote } from "valence/executor";
import type { JobInfo } from "./slurm-states.js";

/** A submitted job: its id, and the cluster it went to when sbatch named one (`--clusters`). */
export interface JobRef {
  readonly id: string;
  readonly cluster?: string;
}

/** `sbatch --parsable SCRIPT`: prints `ID` or `ID;CLUSTER`. */
export function sbatchCommand(scriptPath: string): string {
  return `sbatch --parsable ${shellQuote(scriptPath)}`;
}

/** The job sbatch reports, from its `--parsable` stdout (warnings may precede it on other lines). */
export function parseSbatchOutput(stdout: string): JobRef | undefined {
  const lines = stdout.split("\n").map((l) => l.trim()).filter(Boolean);
  const match = /^(\d+)(?:;(\S+))?$/.exec(lines[lines.length - 1] ?? "");
  if (!match) return undefined;
  return match[2] ? { id: match[1] as string, cluster: match[2] } : { id: match[1] as string };
}

/**
 * One `squeue` for many jobs of one cluster, finished ones included
 * (`-t all`: Slurm keeps them for `MinJobAge` seconds), one `|`-separated
 * line each: id, state, reason, raw exit status.
 */
export function squeueCommand(ids: readonly string[], cluster?: string): string {
  return `squeue -h -t all -j ${ids.join(",")} -O 'JobID:|,State:|,Reason:|,exit_code:|'${clusterFlag(cluster)}`;
}

/** Parses `squeueCommand` output into each listed job's state. Lines of another shape (`CLUSTER: x` headers) are skipped. */
export function parseSqueue(stdout: string): Map<string, JobInfo> {
  const jobs = new Map<string, JobInfo>();
  for (const line of stdout.split("\n")) {
    const [id, state, reason, status] = line.split("|").map((f) => f.trim());
    if (!id || !/^\d+$/.test(id) || !state) continue;
    jobs.set(id, withExit({ state, reason: reason || "None" }, waitStatus(status)));
  }
  return jobs;
}

/** `scontrol show job -o ID`: one line of `Key=Value` pairs; used when squeue no longer lists the job. */
export function scontrolCommand(id: string, cluster?: string): string {
  return `scontrol show job -o ${id}${clusterFlag(cluster)}`;
}

/** JobState, Reason and ExitCode (`code:signal`) from `scontrol show job` output, or undefined if it has none. */
export function parseScontrol(stdout: string): JobInfo | undefined {
  const field = (name: string) => new RegExp(`(?:^|\\s)${name}=(\\S+)`).exec(stdout)?.[1];
  const state = field("JobState");
  if (!state) return undefined;
  const exit = /^(\d+):(\d+)$/.exec(field("ExitCode") ?? "");
  const info = { state, reason: field("Reason") ?? "None" };
  return exit ? withExit(info, { exitCode: Number(exit[1]), signal: Number(exit[2]) }) : info;
}

/** Whether a Slurm client's stderr says the job is unknown: it never existed or has been purged (`MinJobAge`). */
export function isInvalidJobId(stderr: string): boolean {
  return /invalid job id/i.test(stderr);
}

/** `squeue -h -j ID -o %T` over the default states: prints nothing once Slurm has let go of the job (not even COMPLETING). */
export function activeStateCommand(id: string, cluster?: string): string {
  return `squeue -h -j ${id} -o %T${clusterFlag(cluster)}`;
}

/** `scancel ID`. */
export function scancelCommand(id: string, cluster?: string): string {
  return `scancel ${id}${clusterFlag(cluster)}`;
}

function clusterFlag(cluster: string | undefined): string {
  return cluster ? ` --clusters=${shellQuote(cluster)}` : "";
}

/** squeue prints the raw wait status: exit code in the high byte, signal in the low bits. */
function waitStatus(raw: string | undefined): { exitCode?: number; signal?: number } {
  if (!raw || !/^\d+$/.test(raw)) return {};
  const n = Number(raw);
  return { exitCode: n >> 8, signal: n & 0x7f };
}

function withExit(info: { state: string; reason: string }, exit: { exitCode?: number; signal?: number }): JobInfo {
  return {
    ...info,
    ...(exit.exitCode !== undefined ? { exitCode: exit.exitCode } : {}),
    ...(exit.signal ? { signal: exit.signal } : {}),
  };
}
