/**
 * Runs tasks on a host over SSH: Covalent's SSHExecutor on ssh2, with the
 * host key checked against known_hosts.
 *
 * Per host, the code bundle and the task runner are uploaded once (they are
 * named by their content). By default (`isolation: "runner"`) tasks then go
 * to persistent runners on the host, one channel each, a line per task each
 * way (runner-launch.ts, valence's RunnerPool). `isolation: "process"` runs
 * each task as a node process of its own instead (process-task.ts).
 */
import {
  RemoteExecutor,
  RunnerPool,
  runnerJobResult,
  runnerJobStatus,
  shellQuote,
  submitToRunner,
  taskFiles,
  type OutputFileReader,
  type RemoteResult,
  type RemoteStatus,
  type RunnerJob,
  type SharedFile,
  type TaskPackage,
} from "valence/executor";
import { posix } from "node:path";
import { SshRemoteSetupError } from "./errors.js";
import { checkOptions, executorPluginDefaults, type SSHExecutorOptions } from "./options.js";
import {
  cancelProcessTask,
  cleanUpProcessTask,
  processTaskResult,
  processTaskStatus,
  submitProcessTask,
  type ProcessJob,
  type ProcessPlace,
} from "./process-task.js";
import { launchOverSsh, type RunnerPlace } from "./runner-launch.js";
import { closeIfIdle, getTree, longChannels, onLongWait, putTree, SshConnection } from "./ssh-connection.js";
import { resolveTarget, type SshTarget } from "./ssh-target.js";

/** A submitted task, as the lifecycle steps see it. Lives only in this process. */
export type SshJob = ProcessJob | { readonly mode: "runner"; readonly runner: RunnerJob };

/** Node.js major version the bundles and the runner are built for. */
const MIN_NODE_MAJOR = 20;

/** Exit codes of the credentials check script. */
const NO_WORKDIR = 90;
const NO_NODE = 91;

/** Connections held by executors in this process: the last executor's teardown closes one. */
const holders = new Map<SshConnection, number>();
/** Connections no executor holds, kept open until their timer closes them. */
const lingering = new Map<SshConnection, NodeJS.Timeout>();
/** How long a connection and its idle runners outlive the last executor's teardown. */
const LINGER_MS = 30_000;
/** Shared files (runner, bundles) known to be on each connection's host, by remote path. */
const uploads = new WeakMap<SshConnection, Map<string, Promise<void>>>();
/** Persistent runners on each connection's host, by working directory, node and runner file. */
const pools = new WeakMap<SshConnection, RunnerPool>();
const unhooks = new WeakMap<RunnerPool, () => void>();

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
  /** Every task of this executor runs on its one host: the host is its lane in the dashboard's timeline. */
  protected override laneOf(): string {
    return this.options.hostname;
  }

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

  /** "runner": tasks go to persistent runners on the host (the default); "process": a node process per task. */
  get isolation(): "runner" | "process" {
    return this.options.isolation ?? executorPluginDefaults.isolation;
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
    if (this.isolation === "process") return submitProcessTask(connection, this.place(), pkg);
    // Runners are told apart by where they run, with which node and runner file, and for which bundle.
    const place: RunnerPlace = { workdir: this.remoteWorkdir, nodePath: this.nodePath, runner: pkg.runner.relPath };
    const kind = JSON.stringify({ ...place, bundle: pkg.bundle.relPath });
    return { mode: "runner", runner: submitToRunner(this.pool(connection), pkg.bundle.relPath, pkg.taskJson, kind, pkg.live) };
  }

  async pollTask(job: SshJob): Promise<RemoteStatus> {
    if (job.mode === "process") return processTaskStatus(job, this.place());
    return runnerJobStatus(job.runner, `on ${this.options.hostname}`);
  }

  /** Resolves as soon as the task's channel closes or its result line arrives: nothing to poll. */
  protected override waitForChange(job: SshJob): Promise<void> {
    return job.mode === "process" ? job.ended : job.runner.ended;
  }

  /** In process isolation the task's runner appends its output to output.jsonl in the task's directory: followed over SFTP. Runners stream it instead. */
  protected override outputFileReader(job: SshJob, pkg: TaskPackage): OutputFileReader | undefined {
    if (job.mode !== "process") return undefined;
    const path = posix.join(this.remoteWorkdir, taskFiles(pkg).output);
    return (offset) => this.connection().readFrom(path, offset);
  }

  async queryResult(job: SshJob): Promise<RemoteResult> {
    return job.mode === "process" ? processTaskResult(job) : runnerJobResult(job.runner);
  }

  /** Kills the task's process group on the host (in runner mode, its runner's: the pool re-sends the runner's other tasks). */
  override async cancelTask(job: SshJob): Promise<void> {
    if (job.mode === "process") await cancelProcessTask(this.connection(), job);
    else await job.runner.task.cancel();
  }

  /** A per-task process removes its directory when it ends; a killed or lost one's is removed here. Runners leave none. */
  override async cleanup(job: SshJob, pkg: TaskPackage): Promise<void> {
    if (job.mode === "process") await cleanUpProcessTask(this.connection(), this.place(), job, pkg);
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
    // The next dispatch often follows at once (a script's loop, a server's queue): keep the
    // connection and the idle runners a while, so it pays no handshake and no runner start.
    // Neither holds this process open meanwhile.
    const timer = setTimeout(() => void closeUnused(connection), LINGER_MS);
    timer.unref();
    lingering.set(connection, timer);
  }

  /** This executor's connection: the shared one for its target, counted so teardown knows when to close it. */
  private connection(): SshConnection {
    const holder = this.holder();
    if (!holder.current) {
      holder.current = SshConnection.shared(this.target);
      holders.set(holder.current, (holders.get(holder.current) ?? 0) + 1);
      clearTimeout(lingering.get(holder.current));
      lingering.delete(holder.current);
    }
    return holder.current;
  }

  private holder(): { current: SshConnection | undefined } {
    return this.runtimeState("connection", () => ({ current: undefined as SshConnection | undefined }));
  }

  private place(): ProcessPlace {
    return { workdir: this.remoteWorkdir, nodePath: this.nodePath, hostname: this.options.hostname };
  }

  /**
   * The runners on the connection's host, shared by every executor using
   * the connection (the first one's `maxRunners` and `tasksPerRunner`
   * apply): one pool per connection, so an idle runner of one working
   * directory or bundle gives its channel up to a task of another.
   */
  private pool(connection: SshConnection): RunnerPool {
    let pool = pools.get(connection);
    if (!pool) {
      pool = new RunnerPool({
        maxRunners: Math.min(this.options.maxRunners ?? connection[longChannels], connection[longChannels]),
        tasksPerRunner: this.options.tasksPerRunner ?? executorPluginDefaults.tasksPerRunner,
        launch: (kind) => launchOverSsh(connection, JSON.parse(kind) as RunnerPlace),
      });
      pools.set(connection, pool);
      // A task (or runner) waiting for a channel takes an idle runner's.
      unhooks.set(pool, connection[onLongWait](pool.retireIdle.bind(pool)));
    }
    return pool;
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

/** Ends a connection's runners and closes it (if the Slurm plugin is not using it). */
async function closeUnused(connection: SshConnection): Promise<void> {
  lingering.delete(connection);
  if (holders.has(connection)) return;
  const pool = pools.get(connection);
  if (pool) {
    pool.close();
    unhooks.get(pool)?.();
    pools.delete(connection);
  }
  await connection[closeIfIdle]();
}
