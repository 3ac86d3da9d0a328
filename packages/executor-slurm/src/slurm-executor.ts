/**
 * Runs each task as a Slurm batch job, submitted from this machine or from
 * a login node over SSH. The task package goes into `remoteWorkdir` on the
 * cluster's shared file system; the job script runs `valence-task` on it
 * with `nodePath`; squeue/scontrol say when it is over; its `result.json`
 * is the outcome.
 */
import {
  RemoteExecutor,
  onAbort,
  shellQuote,
  taskFiles,
  type OutputFileReader,
  type RemoteResult,
  type RemoteStatus,
  type TaskPackage,
} from "valence/executor";
import type { ClusterShell } from "./cluster-shell.js";
import { SlurmCommandError, SlurmSubmitError } from "./errors.js";
import { activeStateCommand, parseSbatchOutput, sbatchCommand, scancelCommand, type JobRef } from "./job-queries.js";
import { JobWatcher, pollDelay } from "./job-watcher.js";
import { LocalShell } from "./local-shell.js";
import { checkOptions, type SlurmExecutorOptions } from "./options.js";
import { JOB_FILES, sbatchScript } from "./sbatch-script.js";
import { isTerminal, remoteStatus, type JobInfo } from "./slurm-states.js";
import { openSshShell } from "./ssh-shell.js";
import { PilotFleet, PilotTask } from "./pilot-fleet.js";

/** A submitted job, as the lifecycle steps pass it along. */
export interface SlurmJob extends JobRef {
  /** When the job last changed state as polls saw it (submitted, started): polls are quick after a change, then back off. */
  changedAt: number;
  /** What Slurm said at the last poll. */
  last?: JobInfo;
  /** Slurm is done with it (or it was cancelled): cleanup need not scancel it. */
  ended: boolean;
  /** Since when polls of it have failed (slurmctld busy or restarting); unset while they succeed. */
  failingSince?: number;
}

/** Default `remoteWorkdir`: in the home directory of whoever submits. */
export const DEFAULT_WORKDIR = "~/.cache/valence";
/** How much of a task's stderr goes into the error of a task that left no result. */
const STDERR_TAIL_BYTES = 4000;
/** After scancel, how long to wait for Slurm to let go of the job before moving on. */
const CANCEL_WAIT_MS = 10_000;
/** How long polls may fail in a row (slurmctld restarting, "Socket timed out") before the task fails with the error. */
export const POLL_ERROR_GRACE_MS = 120_000;

/**
 * Runs tasks as Slurm jobs.
 *
 * @example
 * const slurm = new SlurmExecutor({ partition: "debug", time: "0:10:00", memory: "2G", prerunCommands: ["module load nodejs/20"] });
 * const train = electron(trainModel, { executor: slurm });
 *
 * // From a laptop, through a login node:
 * new SlurmExecutor({ ssh: { hostname: "login.hpc.example.org", username: "me" }, remoteWorkdir: "/scratch/me/valence" });
 */
export class SlurmExecutor extends RemoteExecutor<SlurmJob | PilotTask> {
  static override pluginName = "slurm";
  declare readonly options: SlurmExecutorOptions;

  constructor(options: SlurmExecutorOptions = {}) {
    super(options);
    // Bad options fail here, at the user's line, not at the first task.
    this.validate();
  }

  override validate(): void {
    super.validate();
    checkOptions(this.options);
  }

  async validateCredentials(): Promise<void> {
    const shell = await this.shell();
    const workdir = await this.workdir();
    const q = shellQuote(workdir);
    const check =
      `for c in sbatch squeue scontrol scancel; do command -v "$c" >/dev/null || { echo "$c" ; exit 3; }; done; ` +
      `mkdir -p ${q} && test -w ${q} || exit 4`;
    const r = await shell.run(check);
    if (r.code === 3) {
      throw new SlurmCommandError(
        `${r.stdout.trim()} is not on the PATH of ${shell.where}: install Slurm's client commands there` +
          (this.options.ssh ? "" : ", or set the `ssh` option to submit from a login node"),
        check,
        r.stderr,
      );
    }
    if (r.code !== 0) {
      throw new SlurmCommandError(`cannot create or write remoteWorkdir ${workdir} on ${shell.where}: ${r.stderr.trim()}`, check, r.stderr);
    }
  }

  async uploadTask(pkg: TaskPackage): Promise<void> {
    const [shell, workdir] = await Promise.all([this.shell(), this.workdir()]);
    await shell.putPackage(pkg, workdir);
  }

  async submitTask(pkg: TaskPackage): Promise<SlurmJob | PilotTask> {
    if (this.options.isolation === "pilot") return this.fleet().submit(pkg);
    const [shell, workdir] = await Promise.all([this.shell(), this.workdir()]);
    const script = sbatchScript({ options: this.options, pkg, workdir });
    const scriptPath = `${workdir}/${pkg.taskDir}/${JOB_FILES.script}`;
    // One command writes the script and submits it: one round trip over SSH.
    const command = `printf '%s' ${shellQuote(script)} > ${shellQuote(scriptPath)} && ${sbatchCommand(scriptPath)}`;
    const r = await shell.run(command);
    const what = `task "${pkg.electronName}" (node ${String(pkg.meta.nodeId)})`;
    if (r.code !== 0) {
      const said = r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`;
      throw new SlurmSubmitError(`sbatch refused the job of ${what} on ${shell.where}:\n${said}`, r.stderr, r.code);
    }
    const ref = parseSbatchOutput(r.stdout);
    if (!ref) {
      throw new SlurmSubmitError(`sbatch printed no job id for ${what} on ${shell.where}: ${JSON.stringify(r.stdout)} ${r.stderr}`, r.stderr, r.code);
    }
    return { ...ref, changedAt: Date.now(), ended: false };
  }

  /** The timeline's row: the Slurm job that ran the task (its own job, or the pilot job that claimed it). */
  protected override laneOf(job: SlurmJob | PilotTask): string | undefined {
    if (job instanceof PilotTask) return job.claimedBy === undefined ? undefined : `slurm job ${job.claimedBy}`;
    return `slurm job ${job.cluster ? `${job.id};${job.cluster}` : job.id}`;
  }

  async pollTask(job: SlurmJob | PilotTask): Promise<RemoteStatus> {
    if (job instanceof PilotTask) return this.fleet().status(job);
    let info: JobInfo | undefined;
    try {
      info = await this.watcher().info(job);
    } catch (error) {
      // A controller that is briefly unreachable must not fail jobs that are running fine: keep the last state for a while.
      job.failingSince ??= Date.now();
      if (Date.now() - job.failingSince > POLL_ERROR_GRACE_MS) throw error;
      return job.last ? remoteStatus(job.id, job.last, this.options) : { state: "pending" };
    }
    job.failingSince = undefined;
    if (!info) {
      // Purged from Slurm's memory (MinJobAge): it ended; its result file tells how.
      job.ended = true;
      return { state: "done" };
    }
    if (job.last?.state !== info.state) job.changedAt = Date.now();
    job.last = info;
    if (isTerminal(info)) job.ended = true;
    return remoteStatus(job.id, info, this.options);
  }

  protected override waitForChange(job: SlurmJob | PilotTask, _pkg: TaskPackage, _polls: number, signal: AbortSignal): Promise<void> {
    // The fleet's one poll loop watches every task in the pilots' queue and says when this one moved.
    if (job instanceof PilotTask) return job.changed;
    const now = Date.now();
    return sleep(pollDelay(now - job.changedAt, (this.options.pollFreq ?? 1) * 1000, now), signal);
  }

  /** The task's output.jsonl, which its runner (a job's own, or the pilot's) appends to as it prints: followed live. */
  protected override outputFileReader(_job: SlurmJob | PilotTask, pkg: TaskPackage): OutputFileReader {
    return async (offset) => {
      const [shell, workdir] = await Promise.all([this.shell(), this.workdir()]);
      return shell.readFrom(`${workdir}/${taskFiles(pkg).output}`, offset);
    };
  }

  async queryResult(job: SlurmJob | PilotTask, pkg: TaskPackage): Promise<RemoteResult> {
    if (job instanceof PilotTask) return this.fleet().result(job);
    const [shell, workdir] = await Promise.all([this.shell(), this.workdir()]);
    const files = taskFiles(pkg);
    // Slurm's exit code means something only once the job has ended (a purged job's is unknown).
    const exitCode = job.last && isTerminal(job.last) ? (job.last.exitCode ?? null) : null;
    const resultJson = await shell.readFile(`${workdir}/${files.result}`);
    if (resultJson !== undefined) return { resultJson, exitCode };
    const [taskErr, jobErr] = await Promise.all([
      shell.readTail(`${workdir}/${files.stderr}`, STDERR_TAIL_BYTES),
      shell.readTail(`${workdir}/${pkg.taskDir}/${JOB_FILES.err}`, STDERR_TAIL_BYTES),
    ]);
    const stderrTail = [taskErr, jobErr].filter((t) => t?.trim()).join("\n") || undefined;
    return { resultJson, exitCode, ...(stderrTail ? { stderrTail } : {}) };
  }

  override async cancelTask(job: SlurmJob | PilotTask): Promise<void> {
    if (job instanceof PilotTask) return this.fleet().cancel(job);
    await this.scancel(job);
    job.ended = true;
    // Wait (briefly) until Slurm has let go of it, processes and all: once the node reads CANCELLED, squeue no longer lists the job.
    const shell = await this.shell();
    const command = activeStateCommand(job.id, job.cluster);
    const deadline = Date.now() + CANCEL_WAIT_MS;
    while (Date.now() < deadline) {
      const r = await shell.run(command);
      if (r.code !== 0 || r.stdout.trim() === "") return;
      await sleep(50, new AbortController().signal);
    }
  }

  override async cleanup(job: SlurmJob | PilotTask, pkg: TaskPackage): Promise<void> {
    if (job instanceof PilotTask) return this.fleet().cleanup(job);
    // A job the executor gave up on (unrunnable, or polling failed) must not stay queued.
    if (!job.ended) await this.scancel(job).catch(() => {});
    const [shell, workdir] = await Promise.all([this.shell(), this.workdir()]);
    await shell.removeDir(`${workdir}/${pkg.taskDir}`);
  }

  override async teardown(): Promise<void> {
    // runtimeState makes what is missing: ask with a maker of "nothing", then forget the key either way.
    // Pilots are told to stop now: their allocations go back at once, not after `pilotIdle`.
    const fleet = this.runtimeState<PilotFleet | undefined>("fleet", () => undefined);
    this.clearRuntimeState("fleet");
    if (fleet) await fleet.close().catch(() => {});
    const shell = this.runtimeState<Promise<ClusterShell> | undefined>("shell", () => undefined);
    this.clearRuntimeState("shell");
    this.clearRuntimeState("workdir");
    this.clearRuntimeState("watcher");
    if (shell) await (await shell.catch(() => undefined))?.close();
  }

  private async scancel(job: SlurmJob): Promise<void> {
    const shell = await this.shell();
    const command = scancelCommand(job.id, job.cluster);
    const r = await shell.run(command);
    if (r.code !== 0) throw new SlurmCommandError(`scancel ${job.id} failed on ${shell.where}: ${r.stderr.trim()}`, command, r.stderr);
  }

  /** Where commands run: made on first use, per instance, never stored in the executor's fields. */
  private shell(): Promise<ClusterShell> {
    return this.runtimeState("shell", () => {
      const { ssh, env } = this.options;
      const made = ssh ? openSshShell(ssh, env) : Promise.resolve<ClusterShell>(new LocalShell(env));
      made.catch(() => this.clearRuntimeState("shell"));
      return made;
    });
  }

  /** `remoteWorkdir`, absolute on the cluster. */
  private workdir(): Promise<string> {
    return this.runtimeState("workdir", () => {
      const resolved = this.shell().then((shell) => shell.resolvePath(this.options.remoteWorkdir ?? DEFAULT_WORKDIR));
      resolved.catch(() => this.clearRuntimeState("workdir"));
      return resolved;
    });
  }

  /** The pilots' queue of this instance (`isolation: "pilot"`), made on first use. */
  fleet(): PilotFleet {
    return this.runtimeState(
      "fleet",
      () => new PilotFleet({ shell: () => this.shell(), workdir: () => this.workdir(), watcher: () => this.watcher(), options: this.options }),
    );
  }

  private watcher(): JobWatcher {
    return this.runtimeState("watcher", () => new JobWatcher(() => this.shell()));
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    const unwatch = onAbort(signal, done);
    function done(): void {
      clearTimeout(timer);
      unwatch();
      resolve();
    }
  });
}
