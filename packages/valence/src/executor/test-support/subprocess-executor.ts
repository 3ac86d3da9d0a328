/**
 * The smallest real `RemoteExecutor`: its "remote place" is a directory on
 * this machine and each task is a `node valence-task` child process. Tests
 * use it to check the remote lifecycle and the task runner without a network.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { access, constants, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  RemoteExecutor,
  type RemoteExecutorOptions,
  type RemoteResult,
  type RemoteStatus,
} from "../remote/remote-executor.js";
import { taskCommand, taskFiles, writeTaskPackage, type TaskPackage } from "../remote/task-package.js";
import { readFileFrom, type OutputFileReader } from "../remote/output-follower.js";

interface Job {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  exitCode?: number | null;
}

export class SubprocessExecutor extends RemoteExecutor<Job> {
  static override pluginName = "subprocess-test";
  /** Steps seen, in order, for tests of the lifecycle. */
  readonly calls: string[] = [];

  constructor(
    readonly workdir: string,
    options: RemoteExecutorOptions = {},
  ) {
    super(options);
  }

  async validateCredentials(): Promise<void> {
    this.calls.push("validateCredentials");
    await access(this.workdir, constants.W_OK);
  }

  async uploadTask(pkg: TaskPackage): Promise<void> {
    this.calls.push("uploadTask");
    await writeTaskPackage(pkg, this.workdir);
  }

  async submitTask(pkg: TaskPackage): Promise<Job> {
    this.calls.push("submitTask");
    // Its own process group, so cancel can kill the shell and node together.
    const child = spawn("sh", ["-c", taskCommand(pkg, this.workdir, process.execPath)], { detached: true, stdio: "ignore" });
    const job: Job = {
      child,
      exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
    };
    void job.exited.then((code) => (job.exitCode = code));
    return job;
  }

  async pollTask(job: Job): Promise<RemoteStatus> {
    return job.exitCode === undefined ? { state: "running" } : { state: "done" };
  }

  /** Told of the exit at once: no need to sleep between polls. */
  protected override async waitForChange(job: Job): Promise<void> {
    await job.exited;
  }

  /** The task's output.jsonl, so its output is followed while it runs. */
  protected override outputFileReader(_job: Job, pkg: TaskPackage): OutputFileReader {
    const path = join(this.workdir, taskFiles(pkg).output);
    return (offset) => readFileFrom(path, offset);
  }

  async queryResult(job: Job, pkg: TaskPackage): Promise<RemoteResult> {
    this.calls.push("queryResult");
    const files = taskFiles(pkg);
    const read = (rel: string) => readFile(join(this.workdir, rel), "utf8").catch(() => undefined);
    const [resultJson, stderr] = await Promise.all([read(files.result), read(files.stderr)]);
    return { resultJson, stderrTail: stderr?.slice(-2000), exitCode: job.exitCode ?? null };
  }

  override async cancelTask(job: Job): Promise<void> {
    this.calls.push("cancelTask");
    if (job.child.pid !== undefined && job.exitCode === undefined) process.kill(-job.child.pid, "SIGKILL");
    await job.exited;
  }

  override async cleanup(_job: Job, pkg: TaskPackage): Promise<void> {
    this.calls.push("cleanup");
    await rm(join(this.workdir, pkg.taskDir), { recursive: true, force: true });
  }
}
