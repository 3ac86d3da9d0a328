/**
 * Runs tasks on a host over SSH: Covalent's SSHExecutor on ssh2, with the
 * host key checked against known_hosts.
 *
 * Per host, the code bundle and the task runner are uploaded once (they are
 * named by their content). Each task then costs one channel: its command
 * receives `task.json` on stdin, runs node in the foreground, and sends back
 * `result.json` when node exits, so the task's end is known at once and
 * nothing is polled.
 */
import { constants as osConstants } from "node:os";
import { RemoteExecutor, shellQuote, type RemoteResult, type RemoteStatus, type SharedFile, type TaskPackage } from "valence/executor";
import { SshRemoteSetupError } from "./errors.js";
import { checkOptions, executorPluginDefaults, type SSHExecutorOptions } from "./options.js";
import { closeIfIdle, getTree, putTree, runCommand, SshConnection, type ExecResult } from "./ssh-connection.js";
import { resolveTarget, type SshTarget } from "./ssh-target.js";
import { pidFromStdout, resultFromStdout, TASK_FILE_WRITE_FAILED, taskScript } from "./task-script.js";

/** A submitted task, as the lifecycle steps see it. Lives only in this process. */
export interface SshJob {
  /** Cancels a task still waiting for a free channel. */
  readonly controller: AbortController;
  /** The command was sent: from now on the task may be running on the host. */
  started: boolean;
  /** The process group id on the host, once the task printed it. */
  pid: number | undefined;
  /** Cancel came: kill the task as soon as its pid is known. */
  cancelled: boolean;
  /** Resolves when the task's channel closed (never rejects). */
  ended: Promise<void>;
  result?: ExecResult;
  error?: Error;
}

/** Node.js major version the bundles and the runner are built for. */
const MIN_NODE_MAJOR = 20;
/** How long cancel waits for the killed task's channel to close. */
const CANCEL_WAIT_MS = 5000;

/** Exit codes of the credentials check script. */
const NO_WORKDIR = 90;
const NO_NODE = 91;

/** Connections held by executors in this process: the last executor's teardown closes one. */
const holders = new Map<SshConnection, number>();
/** Shared files (runner, bundles) known to be on each connection's host, by remote path. */
const uploads = new WeakMap<SshConnection, Map<string, Promise<void>>>();

/**
 * Runs each task with `node` on a host reached over SSH.
 *
 * @example
 * import { SSHExecutor } from "valence-executor-ssh";
 * const gpu = new SSHExecutor({ hostname: "gpu1", username: "me", sshKeyFile: "~/.ssh/id_ed25519" });
 * const train = electron(trainModel, { executor: gpu });
 */
export class SSHExecutor extends RemoteExecutor<SshJob> {
  static override pluginName = "ssh";
  declare readonly options: SSHExecutorOptions;

  /**
   * Takes one options object, as the plugin registry builds named executors.
   * Nothing is checked or connected here: this module is also loaded on the
   * task hosts (it is part of the workflow's bundle), where the options may
   * come from an environment that is not there. `validate` checks them at dispatch.
   */
  constructor(options: SSHExecutorOptions) {
    super(options);
  }

  override validate(): void {
    super.validate();
    checkOptions(this.options as unknown as Record<string, unknown>);
  }

  /** The remote working directory: relative to the remote home (a leading `~/` means the same), or absolute. */
  get remoteWorkdir(): string {
    const dir = (this.options.remoteWorkdir ?? executorPluginDefaults.remoteWorkdir).replace(/\/+$/, "");
    if (dir === "~" || dir === "") return ".";
    return dir.startsWith("~/") ? dir.slice(2) : dir;
  }

  get nodePath(): string {
    return this.options.nodePath ?? executorPluginDefaults.nodePath;
  }

  /** Where to connect, as `SshConnection.shared` takes it. */
  get target(): SshTarget {
    const o = this.options;
    return {
      hostname: o.hostname,
      port: o.port ?? executorPluginDefaults.port,
      connectTimeout: o.connectTimeout ?? executorPluginDefaults.connectTimeout,
      ...(o.username ? { username: o.username } : {}),
      ...(o.sshKeyFile ? { sshKeyFile: o.sshKeyFile } : {}),
      ...(o.knownHostsFile ? { knownHostsFile: o.knownHostsFile } : {}),
      ...(o.maxSessions ? { maxSessions: o.maxSessions } : {}),
    };
  }

  /** Connects and checks the host while the dispatch is still being bundled. */
  override warmUp(): void {
    try {
      this.validate();
    } catch {
      return; // The dispatch reports it.
    }
    void this.credentialsChecked().catch(() => undefined);
  }

  /**
   * Connects (checking the host key), makes the working directory, and checks
   * that `node` runs there and is recent enough. Each failure names its fix.
   */
  async validateCredentials(): Promise<void> {
    const connection = this.connection();
    await connection.connect();
    const dir = shellQuote(this.remoteWorkdir);
    const node = shellQuote(this.nodePath);
    const script =
      `mkdir -p ${dir} || exit ${NO_WORKDIR}; cd ${dir} || exit ${NO_WORKDIR}; ` +
      `command -v ${node} >/dev/null 2>&1 || { echo "PATH=$PATH" >&2; exit ${NO_NODE}; }; ` +
      `exec ${node} -e ${shellQuote("process.stdout.write(process.versions.node)")}`;
    const r = await connection.exec(`sh -c ${shellQuote(script)}`);
    const { destination: dest, hostname: where } = resolveTarget(this.target);
    if (r.code === NO_WORKDIR) {
      throw new SshRemoteSetupError(
        dest,
        `cannot create the working directory ${this.remoteWorkdir} on ${where}: ${r.stderr.trim()}. Set remoteWorkdir to a directory the remote user can write`,
      );
    }
    if (r.code === NO_NODE) {
      throw new SshRemoteSetupError(
        dest,
        `"${this.nodePath}" is not found on ${where} by a non-interactive shell (${r.stderr.trim()}). ` +
          `Install Node.js ${MIN_NODE_MAJOR} or later there, or set nodePath to the full path of its node (e.g. the output of \`which node\` in a login shell there)`,
      );
    }
    const major = Number(/^(\d+)\./.exec(r.stdout)?.[1]);
    if (r.code !== 0 || !Number.isInteger(major)) {
      throw new SshRemoteSetupError(dest, `"${this.nodePath} -e" failed on ${where} (exit ${r.code ?? r.signal}): ${r.stderr.trim() || r.stdout.trim()}`);
    }
    if (major < MIN_NODE_MAJOR) {
      throw new SshRemoteSetupError(
        dest,
        `${this.nodePath} on ${where} is Node.js ${r.stdout.trim()}; tasks need ${MIN_NODE_MAJOR} or later: install it there, or set nodePath to a newer node`,
      );
    }
  }

  /** Uploads the runner and the bundle unless this host already has them; `task.json` travels with the command. */
  async uploadTask(pkg: TaskPackage): Promise<void> {
    const connection = this.connection();
    await Promise.all([this.ensureShared(connection, pkg.runner), this.ensureShared(connection, pkg.bundle)]);
  }

  async submitTask(pkg: TaskPackage): Promise<SshJob> {
    const connection = this.connection();
    const controller = new AbortController();
    let stdoutHead = "";
    const job: SshJob = { controller, started: false, pid: undefined, cancelled: false, ended: Promise.resolve() };
    const command = taskScript({ workdir: this.remoteWorkdir, taskDir: pkg.taskDir, nodePath: this.nodePath, runner: pkg.runner.relPath });
    const run = connection[runCommand](command, {
      lane: "long",
      stdin: pkg.taskJson,
      signal: controller.signal,
      onStart: () => (job.started = true),
      onStdout: (chunk) => {
        if (job.pid !== undefined || stdoutHead.length > 64) return;
        stdoutHead += chunk.toString("latin1");
        job.pid = pidFromStdout(stdoutHead);
        if (job.pid === undefined) return;
        // Cancelled while the remote login shell was still starting: kill it now that we can.
        if (job.cancelled) void this.kill(job);
      },
    });
    job.ended = run.then(
      (result) => {
        job.result = result;
      },
      (error: unknown) => {
        job.error = error instanceof Error ? error : new Error(String(error));
      },
    );
    return job;
  }

  async pollTask(job: SshJob): Promise<RemoteStatus> {
    if (job.error) {
      if (job.controller.signal.aborted) return { state: "failed", reason: "cancelled" };
      return { state: "failed", reason: `${job.error.message}; the task may still be running on ${this.options.hostname}` };
    }
    const r = job.result;
    if (!r) return { state: job.started ? "running" : "pending" };
    if (r.signal) return { state: "failed", reason: `killed by ${r.signal}` };
    if (r.code === TASK_FILE_WRITE_FAILED) {
      return { state: "failed", reason: `could not write the task's files under ${this.remoteWorkdir} on ${this.options.hostname} (is the disk full?)` };
    }
    if (r.code === 127) return { state: "failed", reason: `exit code 127: the remote shell could not run "${this.nodePath}"` };
    const signal = r.code !== null && r.code > 128 ? signalName(r.code - 128) : undefined;
    if (signal) return { state: "failed", reason: `killed by ${signal} (exit code ${r.code}): out of memory, or killed on the host?` };
    return { state: "done" };
  }

  /** Resolves as soon as the task's channel closes: nothing to poll. */
  protected override waitForChange(job: SshJob): Promise<void> {
    return job.ended;
  }

  async queryResult(job: SshJob): Promise<RemoteResult> {
    const r = job.result;
    if (!r) return { resultJson: undefined, exitCode: null };
    return { resultJson: resultFromStdout(r.stdout), stderrTail: r.stderr, exitCode: r.code };
  }

  /**
   * Kills the task's process group on the host and waits (a while) for its
   * channel to close. A task still waiting for a channel is simply never
   * started; one whose pid is not known yet (the remote login shell is still
   * reading its rc files) is killed the moment the pid arrives.
   */
  override async cancelTask(job: SshJob): Promise<void> {
    job.cancelled = true;
    if (!job.started) {
      job.controller.abort();
      return;
    }
    if (job.pid !== undefined) await this.kill(job);
    await withTimeout(job.ended, CANCEL_WAIT_MS);
  }

  private async kill(job: SshJob): Promise<void> {
    if (job.result || job.error || job.pid === undefined) return;
    // The group: the shell, node, and whatever node started. `kill -9 -PGID` is the form dash, bash
    // and busybox all take (dash rejects `kill -KILL -- -PGID`); the bare pid if the group is somehow not ours.
    const kill = `kill -9 -${job.pid} 2>/dev/null || kill -9 ${job.pid} 2>/dev/null; true`;
    await this.connection()
      .exec(`sh -c ${shellQuote(kill)}`)
      .catch(() => undefined);
  }

  /** The task's command removes its directory when it ends; a killed or lost task's directory is removed here. */
  override async cleanup(job: SshJob, pkg: TaskPackage): Promise<void> {
    if (!job.started) return;
    if (job.result && job.result.code !== null) return;
    await this.connection().remove(`${this.remoteWorkdir}/${pkg.taskDir}`);
  }

  /**
   * A `FileTransfer` into the task's place: copies a local file or directory
   * to the host over SFTP. A relative `remotePath` starts at the remote home.
   */
  override async putFile(localPath: string, remotePath: string): Promise<void> {
    await this.connection()[putTree](localPath, remotePath);
  }

  /** A `FileTransfer` out of the task's place (order "after"): copies a remote file or directory here. */
  override async getFile(remotePath: string, localPath: string): Promise<void> {
    await this.connection()[getTree](remotePath, localPath);
  }

  /** Closes the connection when this was the last executor using it and nothing else is. */
  override async teardown(): Promise<void> {
    const holder = this.holder();
    const connection = holder.current;
    if (!connection) return;
    holder.current = undefined;
    const users = (holders.get(connection) ?? 1) - 1;
    if (users > 0) return void holders.set(connection, users);
    holders.delete(connection);
    await connection[closeIfIdle]();
  }

  /** This executor's connection: the shared one for its target, counted so teardown knows when to close it. */
  private connection(): SshConnection {
    const holder = this.holder();
    if (!holder.current) {
      holder.current = SshConnection.shared(this.target);
      holders.set(holder.current, (holders.get(holder.current) ?? 0) + 1);
    }
    return holder.current;
  }

  private holder(): { current: SshConnection | undefined } {
    return this.runtimeState("connection", () => ({ current: undefined as SshConnection | undefined }));
  }

  /** Uploads a content-addressed file unless the host has it; concurrent tasks share one upload. */
  private ensureShared(connection: SshConnection, file: SharedFile): Promise<void> {
    let known = uploads.get(connection);
    if (!known) uploads.set(connection, (known = new Map()));
    const remote = `${this.remoteWorkdir}/${file.relPath}`;
    let upload = known.get(remote);
    if (!upload) {
      upload = (async () => {
        if (!(await connection.exists(remote))) await connection.uploadFile(file.localPath, remote);
      })();
      known.set(remote, upload);
      upload.catch(() => known.delete(remote));
    }
    return upload;
  }
}

function signalName(signal: number): string | undefined {
  const entry = Object.entries(osConstants.signals).find(([, n]) => n === signal);
  return entry?.[0];
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}
