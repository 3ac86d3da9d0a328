/**
 * A `RemoteExecutor` whose place is a directory on this machine and whose
 * tasks run in persistent runners (`valence-task --serve` child processes,
 * each its own process group) fed through a `RunnerPool`. Tests use it to
 * check the serve protocol and the pool without a network.
 */
import { access, constants, rm } from "node:fs/promises";
import { join } from "node:path";
import { RemoteExecutor, type RemoteExecutorOptions, type RemoteResult, type RemoteStatus } from "../remote/remote-executor.js";
import { runnerJobResult, runnerJobStatus, submitToRunner, type RunnerJob } from "../remote/runner-job.js";
import { RunnerPool } from "../remote/runner-pool.js";
import { launchChildRunner } from "../remote/child-runner.js";
import { runnerFile, writeTaskPackage, type TaskPackage } from "../remote/task-package.js";

export interface ServedOptions extends RemoteExecutorOptions {
  readonly maxRunners?: number;
  readonly tasksPerRunner?: number;
  readonly idleMs?: number;
}

export class ServedExecutor extends RemoteExecutor<RunnerJob> {
  static override pluginName = "served-test";
  declare readonly options: ServedOptions;

  constructor(
    readonly workdir: string,
    options: ServedOptions = {},
  ) {
    super(options);
  }

  /** The pool, made on first use. */
  get pool(): RunnerPool {
    return this.runtimeState(
      "pool",
      () =>
        new RunnerPool({
          maxRunners: this.options.maxRunners ?? 2,
          tasksPerRunner: this.options.tasksPerRunner ?? 1,
          ...(this.options.idleMs !== undefined ? { idleMs: this.options.idleMs } : {}),
          launch: () => launchChildRunner({ runnerFile: runnerFile().relPath, cwd: this.workdir, unrefWhenIdle: true }),
        }),
    );
  }

  async validateCredentials(): Promise<void> {
    await access(this.workdir, constants.W_OK);
  }

  async uploadTask(pkg: TaskPackage): Promise<void> {
    await writeTaskPackage(pkg, this.workdir);
  }

  async submitTask(pkg: TaskPackage): Promise<RunnerJob> {
    return submitToRunner(this.pool, pkg.bundle.relPath, pkg.taskJson, pkg.bundle.relPath, pkg.live);
  }

  async pollTask(job: RunnerJob): Promise<RemoteStatus> {
    return runnerJobStatus(job, "on this machine");
  }

  protected override waitForChange(job: RunnerJob): Promise<void> {
    return job.ended;
  }

  async queryResult(job: RunnerJob): Promise<RemoteResult> {
    return runnerJobResult(job);
  }

  override async cancelTask(job: RunnerJob): Promise<void> {
    await job.task.cancel();
  }

  override async cleanup(_job: RunnerJob, pkg: TaskPackage): Promise<void> {
    await rm(join(this.workdir, pkg.taskDir), { recursive: true, force: true });
  }

  override async teardown(): Promise<void> {
    this.pool.close();
  }
}
