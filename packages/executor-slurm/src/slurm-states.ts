/**
 * Slurm's job states and what each means for a Valence node: one table,
 * no I/O. `squeue` and `scontrol` output is parsed in `job-queries.ts`.
 */
import type { RemoteStatus } from "valence/executor";
import { PRERUN_FAILED_EXIT } from "./sbatch-script.js";

/** Every job state Slurm 22.05 reports (`squeue -O State`, `scontrol show job` JobState=). */
export const SLURM_STATES = [
  "PENDING",
  "CONFIGURING",
  "REQUEUED",
  "REQUEUE_FED",
  "REQUEUE_HOLD",
  "RESV_DEL_HOLD",
  "RUNNING",
  "COMPLETING",
  "SIGNALING",
  "STAGE_OUT",
  "RESIZING",
  "SUSPENDED",
  "STOPPED",
  "COMPLETED",
  "FAILED",
  "TIMEOUT",
  "CANCELLED",
  "OUT_OF_MEMORY",
  "NODE_FAIL",
  "PREEMPTED",
  "BOOT_FAIL",
  "DEADLINE",
  "SPECIAL_EXIT",
  "REVOKED",
] as const;
export type SlurmState = (typeof SLURM_STATES)[number];

/** What Slurm said about one job. */
export interface JobInfo {
  /** The state as Slurm printed it; a state this table does not know stays a plain string. */
  readonly state: SlurmState | (string & {});
  /** `Reason`: why a job is pending, or why it failed (`NonZeroExitCode`, `TimeLimit`…). `None` when there is none. */
  readonly reason: string;
  /** The batch script's exit code, when Slurm knows it. */
  readonly exitCode?: number;
  /** The signal that ended it, when one did. */
  readonly signal?: number;
}

/**
 * Pending reasons that mean the job can never start as submitted: it asks
 * for more than its partition allows, names an account or QOS it may not
 * use, or waits on a dependency that failed. Left alone, such a job would
 * wait forever; the executor cancels it and fails the node with the reason.
 */
export const UNRUNNABLE_REASONS: Readonly<Record<string, string>> = {
  PartitionConfig: "it asks for more than its partition has (cpusPerTask, memory or node count): lower them or choose another partition",
  PartitionNodeLimit: "it asks for more nodes than its partition allows: lower the node count or choose another partition",
  PartitionTimeLimit: "its time limit is above its partition's: lower `time` or choose another partition",
  BadConstraints: "no node can satisfy its constraints (memory, cpusPerTask, --constraint, --gres): lower them",
  InvalidAccount: "its account is not valid here: check `account`",
  InvalidQOS: "its QOS is not valid here: check sbatchOptions.qos",
  QOSMaxWallDurationPerJobLimit: "its time limit is above its QOS's: lower `time`",
  DependencyNeverSatisfied: "a job it depends on failed",
};

const TERMINAL: ReadonlySet<string> = new Set<SlurmState>([
  "COMPLETED",
  "FAILED",
  "TIMEOUT",
  "CANCELLED",
  "OUT_OF_MEMORY",
  "NODE_FAIL",
  "PREEMPTED",
  "BOOT_FAIL",
  "DEADLINE",
  "SPECIAL_EXIT",
  "REVOKED",
]);

/** Whether Slurm is done with the job (it will not run again by itself). */
export function isTerminal(info: JobInfo): boolean {
  return TERMINAL.has(info.state);
}

/**
 * What a Slurm job's state means for its task. `jobId` and `options` only
 * shape the error text, which says what to change.
 *
 * @example
 * remoteStatus("12", { state: "OUT_OF_MEMORY", reason: "OutOfMemory" });
 * // { state: "failed", reason: "Slurm job 12 ran out of memory (OUT_OF_MEMORY): raise `memory`" }
 */
export function remoteStatus(jobId: string, info: JobInfo, options: { memory?: string | number; time?: string | number } = {}): RemoteStatus {
  const state = info.state as SlurmState;
  const failed = (text: string): RemoteStatus => ({ state: "failed", reason: `Slurm job ${jobId} ${text}` });
  switch (state) {
    case "PENDING": {
      const why = UNRUNNABLE_REASONS[info.reason];
      return why ? failed(`can never start (PENDING, Reason=${info.reason}): ${why}`) : { state: "pending" };
    }
    case "CONFIGURING":
    case "REQUEUED":
    case "REQUEUE_FED":
    case "REQUEUE_HOLD":
    case "RESV_DEL_HOLD":
      return { state: "pending" };
    case "RUNNING":
    case "COMPLETING":
    case "SIGNALING":
    case "STAGE_OUT":
    case "RESIZING":
    case "SUSPENDED":
    case "STOPPED":
      return { state: "running" };
    case "COMPLETED":
      return { state: "done" };
    case "FAILED":
      return failed(`failed (FAILED, ${exitText(info)}${reasonText(info, ["NonZeroExitCode"])})`);
    case "TIMEOUT":
      return failed(`reached its time limit${options.time !== undefined ? ` of ${String(options.time)}` : ""} (TIMEOUT): raise \`time\``);
    case "CANCELLED":
      return failed(`was cancelled (CANCELLED${reasonText(info)}) by scancel or an administrator, not by Valence`);
    case "OUT_OF_MEMORY":
      return failed(`ran out of memory${options.memory !== undefined ? ` (memory ${String(options.memory)})` : ""} (OUT_OF_MEMORY): raise \`memory\``);
    case "NODE_FAIL":
      return failed(`lost its node (NODE_FAIL): the node failed while running it; run it again (electron option \`retries\`)`);
    case "PREEMPTED":
      return failed(`was preempted (PREEMPTED) by a higher-priority job: choose a partition or QOS without preemption, or set \`retries\``);
    case "BOOT_FAIL":
      return failed(`could not start: its node failed to boot (BOOT_FAIL); run it again (electron option \`retries\`)`);
    case "DEADLINE":
      return failed(`missed its deadline (DEADLINE): remove or extend sbatchOptions.deadline`);
    case "SPECIAL_EXIT":
    case "REVOKED":
      return failed(`ended in state ${state}${reasonText(info)}`);
    default: {
      const unknown: never = state;
      // A state newer than this table: keep waiting, as for a running job.
      void unknown;
      return { state: "running" };
    }
  }
}

function exitText(info: JobInfo): string {
  if (info.signal) return `killed by signal ${info.signal}`;
  if (info.exitCode === PRERUN_FAILED_EXIT) return `exit code ${PRERUN_FAILED_EXIT}: a prerun command failed, so the task did not run`;
  return info.exitCode === undefined ? "exit code unknown" : `exit code ${info.exitCode}`;
}

function reasonText(info: JobInfo, ignore: readonly string[] = []): string {
  return info.reason && info.reason !== "None" && !ignore.includes(info.reason) ? `, Reason=${info.reason}` : "";
}
