/**
 * `ClusterShell` on a login node, over the ssh plugin's connection: Slurm
 * commands are remote `exec`s, files go by SFTP. The shared file system is
 * the login node's, which the compute nodes see too.
 */
import { posix } from "node:path";
import { shellQuote, taskFiles, type TaskPackage } from "valence/executor";
import { COMMAND_TIMEOUT_MS, exportPrefix, type ClusterShell, type CommandResult } from "./cluster-shell.js";
import { SlurmCommandError } from "./errors.js";
import type { SlurmSshOptions } from "./options.js";

/** The part of the ssh plugin's `SshConnection` this shell uses (its writes are atomic and make their directories). */
interface SshConnectionLike {
  exec(command: string, options?: { signal?: AbortSignal }): Promise<{ code: number | null; signal?: string; stdout: string; stderr: string }>;
  writeFile(remotePath: string, data: string): Promise<void>;
  uploadFile(localPath: string, remotePath: string): Promise<void>;
  readFile(remotePath: string): Promise<string | undefined>;
  exists(remotePath: string): Promise<boolean>;
  remove(remotePath: string): Promise<void>;
}

/** The plugin's exports, typed from its declarations (a type-only import: erased, never bundled). */
type SshModule = Pick<typeof import("valence-executor-ssh"), "SshConnection">;

/**
 * Opens the shell. The ssh plugin is imported here, on first use, through a
 * name the bundler does not follow: a workflow that uses the Slurm executor
 * locally never loads ssh2, and its code bundle does not carry it.
 */
export async function openSshShell(target: SlurmSshOptions, env: Readonly<Record<string, string>> | undefined): Promise<ClusterShell> {
  const specifier = "valence-executor-ssh";
  let mod: SshModule;
  try {
    mod = (await import(specifier)) as SshModule;
  } catch (error) {
    throw new SlurmCommandError(
      `the \`ssh\` option needs the package valence-executor-ssh, which failed to load: ${(error as Error).message}`,
      `import("${specifier}")`,
      "",
      { cause: error },
    );
  }
  return new SshShell(mod.SshConnection.shared(target), target, env);
}

export class SshShell implements ClusterShell {
  readonly where: string;
  /** Shared files (runner, bundles) known to be on the cluster, or being uploaded. */
  private readonly shared = new Map<string, Promise<void>>();
  private home: Promise<string> | undefined;

  constructor(
    private readonly connection: SshConnectionLike,
    target: SlurmSshOptions,
    private readonly env: Readonly<Record<string, string>> | undefined,
  ) {
    this.where = `login node ${target.username ? `${target.username}@` : ""}${target.hostname}:${target.port ?? 22}`;
  }

  async run(command: string, options: { readonly timeoutMs?: number } = {}): Promise<CommandResult> {
    const timeoutMs = options.timeoutMs ?? COMMAND_TIMEOUT_MS;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const r = await this.connection.exec(exportPrefix(this.env, shellQuote) + command, { signal });
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    } catch (error) {
      if (signal.aborted) throw new Error(`\`${command}\` did not finish within ${timeoutMs / 1000} s on ${this.where}`, { cause: error });
      throw error;
    }
  }

  async resolvePath(path: string): Promise<string> {
    if (posix.isAbsolute(path)) return path;
    const home = await this.homeDir();
    if (path === "~") return home;
    return posix.join(home, path.startsWith("~/") ? path.slice(2) : path);
  }

  async putPackage(pkg: TaskPackage, workdir: string): Promise<void> {
    // All over SFTP at once: the shared files (checked once per shell) and task.json, which makes the task's directory.
    await Promise.all([
      this.putShared(pkg.runner.localPath, posix.join(workdir, pkg.runner.relPath)),
      this.putShared(pkg.bundle.localPath, posix.join(workdir, pkg.bundle.relPath)),
      this.connection.writeFile(posix.join(workdir, taskFiles(pkg).task), pkg.taskJson),
    ]);
  }

  readFile(path: string): Promise<string | undefined> {
    return this.connection.readFile(path);
  }

  async readTail(path: string, bytes: number): Promise<string | undefined> {
    const r = await this.run(`test -e ${shellQuote(path)} && tail -c ${bytes} ${shellQuote(path)}`);
    return r.code === 0 ? r.stdout : undefined;
  }

  async readFrom(path: string, offset: number): Promise<string | undefined> {
    // tail -c +N starts at byte N, counting from 1.
    const r = await this.run(`test -e ${shellQuote(path)} && tail -c +${offset + 1} ${shellQuote(path)}`);
    return r.code === 0 ? r.stdout : undefined;
  }

  removeDir(path: string): Promise<void> {
    return this.connection.remove(path);
  }

  /** The connection is shared with other executors in this process, and an idle one does not hold the process open: it stays. */
  async close(): Promise<void> {}

  /** A content-named file: uploaded (atomically) only if it is not there yet; remembered once it is. */
  private putShared(localPath: string, target: string): Promise<void> {
    let put = this.shared.get(target);
    if (!put) {
      put = this.connection.exists(target).then((there) => (there ? undefined : this.connection.uploadFile(localPath, target)));
      put.catch(() => this.shared.delete(target));
      this.shared.set(target, put);
    }
    return put;
  }

  private homeDir(): Promise<string> {
    // Where a session starts (sshd changes to the user's home): what relative SFTP paths and commands
    // both start from, whatever the login shell's rc files do to $HOME.
    this.home ??= this.mustRun("pwd", "find the home directory").then((r) => r.stdout.trim() || "/");
    this.home.catch(() => (this.home = undefined));
    return this.home;
  }

  private async mustRun(command: string, what: string): Promise<CommandResult> {
    const r = await this.run(command);
    if (r.code !== 0) throw new SlurmCommandError(`could not ${what} on ${this.where}: ${r.stderr.trim() || `exit code ${r.code}`}`, command, r.stderr);
    return r;
  }
}
