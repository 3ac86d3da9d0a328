/**
 * The "__NAME__" executor, a Valence executor plugin that runs tasks
 * somewhere else: another host, a batch queue, a cloud service.
 *
 * `RemoteExecutor` turns each task into a *task package* (the dispatch's code
 * bundle, the small `valence-task` runner, and a task.json with the electron's
 * id and its encoded arguments) that runs wherever there is `node` >= 20, with
 * no npm install. It drives Covalent's remote lifecycle through the methods
 * below:
 *
 *   validateCredentials → uploadTask → submitTask → pollTask … → queryResult → cleanup
 *
 * with `cancelTask` at any point after submission. As generated, "somewhere
 * else" is a work directory on this machine and each task is a local `node`
 * child process: every step says what to do instead over your transport.
 *
 * `npm test` runs Valence's executor contract suite against this class: keep
 * it passing as you change it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { access, constants, mkdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  RemoteExecutor,
  taskCommand,
  taskFiles,
  writeTaskPackage,
  type RemoteExecutorOptions,
  type RemoteResult,
  type RemoteStatus,
  type TaskPackage,
} from "valence/executor";

/**
 * The name workflows use (`executor: "__NAME__"`) and the config file section
 * (`[executors.__NAME__]`). It must equal `valence.executor.name` in package.json.
 */
export const executorPluginName = "__NAME__";

/**
 * The options an executor picked by name starts from; a `[executors.__NAME__]`
 * section in valence.toml overrides them. Plain JSON values only: they are
 * shown by `valence executors` and stored with every dispatch.
 */
export const executorPluginDefaults = {
  workdir: join(tmpdir(), "valence-__NAME__"),
  maxConcurrency: 8,
  pollFreq: 1,
} satisfies __CLASS_NAME__Options;

export interface __CLASS_NAME__Options extends RemoteExecutorOptions {
  // Inherited: `maxConcurrency` (most tasks at once), `pollFreq` (longest wait between polls, in seconds).
  /** Directory on the place that runs tasks, where task packages go. */
  readonly workdir?: string;
  /** The `node` binary there (on a remote host: "node", or its full path). Default: the node running Valence. */
  readonly nodePath?: string;
  // Add your own options here (hostname, credentials file, queue name, …).
}

/**
 * What identifies a submitted task to the other steps: here the child
 * process; for you a remote pid, a job id, a request id. It lives in memory
 * only while the task runs, so it may hold live objects.
 */
interface Job {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  exitCode?: number | null;
}

export class __CLASS_NAME__ extends RemoteExecutor<Job> {
  /** Stored dispatches name the executor by this, so the registry finds this class again by its plugin name. */
  static override pluginName = executorPluginName;

  // IMPORTANT: an executor travels with its dispatch as its own fields and is
  // rebuilt from them WITHOUT calling the constructor (as Covalent unpickles
  // executors). So:
  // - keep options in plain-data fields (strings, numbers, booleans, arrays,
  //   plain objects), set in the constructor, like `workdir` below;
  // - keep connections (an SSH client, an HTTP agent) out of fields (and out
  //   of #private fields, which a rebuilt instance lacks): create them on
  //   first use with `this.runtimeState(key, make)`, e.g.
  //     private get client(): Client {
  //       return this.runtimeState("client", () => connect(this.hostname));
  //     }
  //   and close them in `teardown`, then `this.clearRuntimeState(key)`.

  readonly workdir: string;
  readonly nodePath: string;

  /** One options object: the registry builds named executors as `new __CLASS_NAME__({ ...defaults, ...config })`. */
  constructor(options: __CLASS_NAME__Options = {}) {
    const { workdir, nodePath, ...base } = { ...executorPluginDefaults, ...options };
    super(base);
    this.workdir = workdir;
    this.nodePath = nodePath ?? process.execPath;
  }

  /**
   * Runs once per instance, before its first task (and again after a failure).
   * Check that the place can be reached with the configured credentials, and
   * throw an error that says what to fix. Over SSH: connect and run
   * `node --version`. Here: the work dir exists and can be written.
   */
  async validateCredentials(): Promise<void> {
    await mkdir(this.workdir, { recursive: true });
    await access(this.workdir, constants.W_OK).catch((error: Error) => {
      throw new Error(`work dir ${this.workdir} is not writable (set workdir in [executors.__NAME__]): ${error.message}`);
    });
  }

  /**
   * Puts the package's files where the task will run. `pkg.runner` and
   * `pkg.bundle` are shared by many tasks and named by their content: copy
   * each from `localPath` to `relPath` under the work dir only if it is not
   * there yet. `pkg.taskJson` goes to `taskFiles(pkg).task`. Over SSH: the
   * same with sftp. Here: plain file copies.
   */
  async uploadTask(pkg: TaskPackage): Promise<void> {
    await writeTaskPackage(pkg, this.workdir);
  }

  /**
   * Starts the task and returns what identifies it. `taskCommand` is one
   * shell command that runs the package from the work dir, its output going to
   * the task's log files. Over SSH: exec it in the background and keep the
   * pid; on a batch queue: submit a script that runs it and keep the job id.
   * Here: a local shell, in a process group of its own so cancel can kill
   * the shell and node together.
   */
  async submitTask(pkg: TaskPackage): Promise<Job> {
    const child = spawn("sh", ["-c", taskCommand(pkg, this.workdir, this.nodePath)], { detached: true, stdio: "ignore" });
    const job: Job = {
      child,
      exited: new Promise((resolve) => {
        child.once("exit", (code) => resolve(code));
        child.once("error", () => resolve(null));
      }),
    };
    void job.exited.then((code) => (job.exitCode = code));
    return job;
  }

  /**
   * Where the task is now: "pending" or "running"; "done" once its process
   * ended (its result file, if any, can be read); "failed" with a reason when
   * the place gave up on it (killed, out of memory, over its time limit).
   * Over SSH: `kill -0 PID`; on Slurm: `squeue`/`sacct`.
   */
  async pollTask(job: Job): Promise<RemoteStatus> {
    return job.exitCode === undefined ? { state: "running" } : { state: "done" };
  }

  /**
   * Waits before the next poll. The default sleeps, doubling from 20 ms up to
   * `pollFreq` seconds: delete this method if your place can only be polled.
   * Here the exit is known at once, so there is no need to sleep.
   */
  protected override async waitForChange(job: Job): Promise<void> {
    await job.exited;
  }

  /**
   * Fetches what the finished task left: the contents of its result file
   * (undefined if it wrote none) and, for diagnosis, the end of its stderr
   * log. Over SSH: read both files with sftp.
   */
  async queryResult(job: Job, pkg: TaskPackage): Promise<RemoteResult> {
    const files = taskFiles(pkg);
    const read = (rel: string) => readFile(join(this.workdir, rel), "utf8").catch(() => undefined);
    const [resultJson, stderr] = await Promise.all([read(files.result), read(files.stderr)]);
    return { resultJson, stderrTail: stderr?.slice(-2000), exitCode: job.exitCode ?? null };
  }

  /**
   * Stops a submitted task: the task was cancelled or timed out. Over SSH:
   * `kill -KILL -PGID`; on Slurm: `scancel`. Here: kill the process group.
   */
  override async cancelTask(job: Job): Promise<void> {
    if (job.child.pid !== undefined && job.exitCode === undefined) {
      try {
        process.kill(-job.child.pid, "SIGKILL");
      } catch {
        // It ended on its own meanwhile.
      }
    }
    await job.exited;
  }

  /**
   * Removes the task's own directory once its result is read (or it was
   * cancelled). The shared runner and bundles stay for later tasks.
   */
  override async cleanup(_job: Job, pkg: TaskPackage): Promise<void> {
    await rm(join(this.workdir, pkg.taskDir), { recursive: true, force: true });
  }

  // `setup()` and `teardown()` bracket the tasks an instance runs (one
  // instance may serve several dispatches at once): override them to open a
  // connection pool before the first task and close it after the last one.
}
