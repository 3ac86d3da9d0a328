/**
 * One SSH connection to a host, shared by everything in this process that
 * talks to it (the ssh executor, the Slurm plugin's login node): commands
 * and file transfers multiplex over it as channels. It connects on first
 * use and again after a drop, keeps channels under the server's
 * `MaxSessions`, and never holds the process open while idle.
 */
import type { Socket } from "node:net";
import type { Client, ClientChannel } from "ssh2";
import { ChannelLimiter, type Lane } from "./channel-limiter.js";
import { SshConnectionLostError, SshError, SshRemoteSetupError } from "./errors.js";
import { openSession } from "./open-session.js";
import { SftpFiles } from "./sftp-files.js";
import { resolveTarget, type ResolvedTarget, type SshTarget } from "./ssh-target.js";
import { shellQuote } from "valence/executor";

/** What a finished remote command left. `code` is null when it was killed by a signal (then `signal` names it, e.g. "SIGTERM"). */
export interface ExecResult {
  readonly code: number | null;
  readonly signal?: string;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  /** Aborting closes the channel and rejects with the signal's reason. The remote process may outlive it. */
  readonly signal?: AbortSignal;
}

/** Options of the internal command runner, beyond `exec`'s. */
export interface RunOptions extends ExecOptions {
  readonly lane: Lane;
  /** Sent on the command's stdin, then EOF. */
  readonly stdin?: string | Buffer;
  /** Called with each stdout chunk as it arrives (the ssh executor learns a task's pid from its first line). */
  readonly onStdout?: (chunk: Buffer) => void;
  /** Called just before the command is sent: from then on it may be running on the host, and aborting no longer stops it. */
  readonly onStart?: () => void;
}

/** A command that stays up on its own channel (a persistent task runner), fed through its stdin. */
export interface OpenChannel {
  write(text: string): void;
  /** Sends EOF on its stdin. */
  end(): void;
  /** Resolves when the channel closed: how the command ended, or the connection's loss. */
  readonly closed: Promise<{ readonly code: number | null; readonly signal?: string; readonly error?: Error }>;
}

export interface StreamOptions {
  readonly onStdout: (chunk: Buffer) => void;
  readonly onStderr: (chunk: Buffer) => void;
}

/** Counters for tests and diagnostics. */
export interface ConnectionStats {
  /** SSH handshakes completed. */
  connects: number;
  /** Commands run (channels opened for exec). */
  execs: number;
  /** Files written or uploaded. */
  writes: number;
  /** The most exec channels open at once. */
  maxChannels: number;
}

/** The running session: dropped and replaced when the connection closes. */
interface Live {
  readonly client: Client;
  readonly sock: Socket;
  closed: boolean;
  sftp?: Promise<SftpFiles>;
  /** Rejecters of the commands in flight, told when the connection drops. */
  readonly inFlight: Set<(error: Error) => void>;
}

// Internal entry points, reachable from this package's modules but not part of the public class surface.
export const runCommand = Symbol("runCommand");
export const closeIfIdle = Symbol("closeIfIdle");
export const putTree = Symbol("putTree");
export const getTree = Symbol("getTree");
export const openStream = Symbol("openStream");
export const hold = Symbol("hold");
export const longChannels = Symbol("longChannels");
export const onLongWait = Symbol("onLongWait");
const statsOf = new WeakMap<SshConnection, ConnectionStats>();

/** Counters of `connection` (tests check uploads happen once and channels stay under the limit). */
export function connectionStats(connection: SshConnection): Readonly<ConnectionStats> {
  return statsOf.get(connection) as ConnectionStats;
}

/** Channels kept free of `MaxSessions`: one for the SFTP session, one spare for a channel the server is still closing. */
const RESERVED_CHANNELS = 2;
/** Exec channels that only short commands may use, so a cancel's `kill` never waits behind running tasks. */
const SHORT_ONLY_CHANNELS = 2;

export class SshConnection {
  private static readonly pool = new Map<string, SshConnection>();

  /**
   * The connection for `target` in this process, made on first call. Every
   * caller with the same user, host, port, key file and known_hosts gets
   * the same object (with the first caller's `connectTimeout` and
   * `maxSessions`). It connects on first use.
   *
   * @example
   * const login = SshConnection.shared({ hostname: "login1", username: "me" });
   * const { stdout } = await login.exec("sbatch --parsable job.sh");
   */
  static shared(target: SshTarget): SshConnection {
    const resolved = resolveTarget(target);
    let connection = SshConnection.pool.get(resolved.key);
    if (!connection) {
      connection = new SshConnection(target);
      SshConnection.pool.set(resolved.key, connection);
    }
    return connection;
  }

  private readonly target: ResolvedTarget;
  private readonly limiter: ChannelLimiter;
  private live: Promise<Live> | undefined;
  /** Operations in flight; the socket holds the process open only while this is above 0. */
  private busy = 0;
  private readonly stats: ConnectionStats = { connects: 0, execs: 0, writes: 0, maxChannels: 0 };
  /** Called when a long channel must wait: idle persistent runners give theirs up. */
  private readonly longWaitHooks = new Set<() => void>();

  /** A connection of its own, not shared: prefer `SshConnection.shared`. */
  constructor(target: SshTarget) {
    this.target = resolveTarget(target);
    // At least two exec channels, one of them for short commands only (maxSessions is checked to be at least 4).
    const execChannels = Math.max(2, this.target.maxSessions - RESERVED_CHANNELS);
    this.limiter = new ChannelLimiter(execChannels, Math.max(1, execChannels - SHORT_ONLY_CHANNELS));
    statsOf.set(this, this.stats);
  }

  /** Connects now (verifying the host key and logging in) if not connected; rejects with an `SshError` that says what to fix. */
  async connect(): Promise<void> {
    await this.track(() => this.session());
  }

  /**
   * Runs `command` through the remote user's login shell, from their home
   * directory, and collects its output. A non-zero exit is a result, not an
   * error; an unreachable host or a dropped connection is an `SshError`.
   *
   * @example
   * const r = await conn.exec(`cd ${shellQuote(dir)} && ls`);
   * if (r.code !== 0) throw new Error(r.stderr);
   */
  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this[runCommand](command, { lane: "short", ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  /** Writes `data` to `remotePath` atomically (temp file, then rename), creating its directory. */
  async writeFile(remotePath: string, data: string | Buffer): Promise<void> {
    await this.withFiles(async (files) => {
      this.stats.writes++;
      await files.writeFile(remotePath, data);
    });
  }

  /** Copies a local file to `remotePath` atomically, creating its directory. */
  async uploadFile(localPath: string, remotePath: string): Promise<void> {
    await this.withFiles(async (files) => {
      this.stats.writes++;
      await files.uploadFile(localPath, remotePath);
    });
  }

  /** The file's text (UTF-8), or undefined when it does not exist. */
  readFile(remotePath: string): Promise<string | undefined> {
    return this.withFiles((files) => files.readFile(remotePath));
  }

  /** The file from byte `offset` on (latin1: for ASCII files), or undefined when it does not exist. */
  readFrom(remotePath: string, offset: number): Promise<string | undefined> {
    return this.withFiles((files) => files.readFrom(remotePath, offset));
  }

  async exists(remotePath: string): Promise<boolean> {
    return (await this.withFiles((files) => files.stat(remotePath))) !== undefined;
  }

  /** Removes a file or a directory tree (`rm -rf`); a missing path is fine. */
  async remove(remotePath: string): Promise<void> {
    const r = await this.exec(`rm -rf -- ${shellQuote(remotePath)}`);
    if (r.code !== 0) throw new SshError(this.target.destination, `cannot remove ${remotePath} on ${this.target.hostname}: ${r.stderr.trim() || `rm exited with ${r.code ?? r.signal}`}`);
    const files = await this.live?.then((l) => l.sftp).catch(() => undefined);
    files?.forgetDirs(remotePath.replace(/\/+$/, ""));
  }

  /** Disconnects now; commands in flight fail with `SshConnectionLostError`. The next use connects again. */
  async close(): Promise<void> {
    const live = this.live;
    this.live = undefined;
    const session = await live?.catch(() => undefined);
    if (!session || session.closed) return;
    // Held open until the goodbye is done, even if the socket was idle (unref'd).
    session.sock.ref();
    await new Promise<void>((resolve) => {
      // A peer that never answers our close must not keep us waiting.
      const timer = setTimeout(() => {
        session.sock.destroy();
        resolve();
      }, 2000);
      session.client.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      session.client.end();
    });
  }

  /** Copies a local file or directory tree to the host (the executor's `FileTransfer`s). */
  [putTree](localPath: string, remotePath: string): Promise<void> {
    return this.withFiles(async (files) => {
      this.stats.writes++;
      await files.uploadTree(localPath, remotePath);
    });
  }

  /** Copies a remote file or directory tree to this machine. */
  [getTree](remotePath: string, localPath: string): Promise<void> {
    return this.withFiles((files) => files.downloadTree(remotePath, localPath));
  }

  /** Closes the connection if nothing is using it (the ssh executor's teardown: the Slurm plugin may still be). */
  async [closeIfIdle](): Promise<void> {
    if (this.busy === 0) await this.close();
  }

  /** Registers `reclaim`, called whenever a long channel has to wait (it may close an idle runner's); returns its removal. */
  [onLongWait](reclaim: () => void): () => void {
    this.longWaitHooks.add(reclaim);
    return () => this.longWaitHooks.delete(reclaim);
  }

  /** Waits for a channel of `lane`, asking idle runners to give theirs up when a long one has to wait. */
  private acquireChannel(lane: Lane, signal?: AbortSignal): Promise<() => void> {
    if (lane === "long" && this.limiter.wouldWait("long")) for (const reclaim of this.longWaitHooks) reclaim();
    return this.limiter.acquire(lane, signal);
  }

  /** How many long channels may be open at once: the most persistent runners this connection can hold. */
  get [longChannels](): number {
    return this.limiter.longCapacity;
  }

  /**
   * Keeps the connection's socket holding the process open until the
   * returned function is called: a persistent runner's channel does not,
   * except while it has tasks.
   */
  [hold](): () => void {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    void this.track(() => held);
    return release;
  }

  /**
   * Starts `command` on a long channel of its own and leaves it running:
   * what it prints is fed to `opts` as it comes, and lines go to its stdin
   * with `write`. The channel slot is freed when the command ends. An idle
   * stream does not hold the process open (see `hold`).
   */
  async [openStream](command: string, opts: StreamOptions): Promise<OpenChannel> {
    const { live, release } = await this.track(async () => {
      const session = await this.session();
      return { live: session, release: await this.acquireChannel("long") };
    });
    try {
      if (live.closed) throw this.lost();
      this.stats.execs++;
      this.stats.maxChannels = this.limiter.maxInUse;
      const channel = await new Promise<ClientChannel>((resolve, reject) => {
        try {
          live.client.exec(command, (error, ch) => (error ? reject(live.closed ? this.lost() : this.channelRefused(error)) : resolve(ch)));
        } catch (error) {
          reject(live.closed ? this.lost() : this.channelRefused(error as Error));
        }
      });
      let code: number | null = null;
      let signal: string | undefined;
      const closed = new Promise<{ code: number | null; signal?: string; error?: Error }>((resolve) => {
        const onLost = (error: Error): void => {
          channel.destroy();
          resolve({ code: null, error });
        };
        live.inFlight.add(onLost);
        channel.on("exit", (exitCode: number | null, signalName?: string) => {
          code = exitCode ?? null;
          if (signalName) signal = signalName.startsWith("SIG") ? signalName : `SIG${signalName}`;
        });
        channel.on("close", () => {
          live.inFlight.delete(onLost);
          release();
          if (code === null && signal === undefined && (live.closed || live.sock.destroyed)) resolve({ code: null, error: this.lost() });
          else resolve({ code, ...(signal ? { signal } : {}) });
        });
      });
      channel.on("data", opts.onStdout);
      channel.stderr.on("data", opts.onStderr);
      channel.on("error", () => {});
      return {
        write: (text) => void channel.write(text),
        end: () => void channel.end(),
        closed,
      };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Runs a command on a channel of `lane`, waiting for a free channel first. */
  [runCommand](command: string, opts: RunOptions): Promise<ExecResult> {
    return this.track(async () => {
      const live = await this.session();
      const release = await this.acquireChannel(opts.lane, opts.signal);
      try {
        if (live.closed) throw this.lost();
        this.stats.execs++;
        this.stats.maxChannels = this.limiter.maxInUse;
        return await this.runOn(live, command, opts);
      } finally {
        release();
      }
    });
  }

  private runOn(live: Live, command: string, opts: RunOptions): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      let channel: ClientChannel | undefined;
      let settled = false;
      const finish = (error: Error | undefined, result?: ExecResult): void => {
        if (settled) return;
        settled = true;
        live.inFlight.delete(onLost);
        opts.signal?.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else resolve(result as ExecResult);
      };
      const onLost = (error: Error): void => {
        channel?.destroy();
        finish(error);
      };
      const onAbort = (): void => {
        if (channel) {
          channel.signal("KILL");
          channel.close();
        }
        finish(opts.signal?.reason as Error);
      };
      live.inFlight.add(onLost);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      if (opts.signal?.aborted) return onAbort();
      try {
        opts.onStart?.();
        live.client.exec(command, (error, ch) => {
          if (error) return finish(live.closed ? this.lost() : this.channelRefused(error));
          channel = ch;
          if (settled) return void ch.close();
          const stdout: Buffer[] = [];
          const stderr: Buffer[] = [];
          let code: number | null = null;
          let signal: string | undefined;
          ch.on("data", (chunk: Buffer) => {
            stdout.push(chunk);
            opts.onStdout?.(chunk);
          });
          ch.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
          ch.on("exit", (exitCode: number | null, signalName?: string) => {
            code = exitCode ?? null;
            if (signalName) signal = signalName.startsWith("SIG") ? signalName : `SIG${signalName}`;
          });
          ch.on("close", () => {
            // A channel that closed without an exit status went down with the connection.
            if (code === null && signal === undefined && (live.closed || live.sock.destroyed)) return finish(this.lost());
            finish(undefined, {
              code,
              ...(signal ? { signal } : {}),
              stdout: Buffer.concat(stdout).toString("utf8"),
              stderr: Buffer.concat(stderr).toString("utf8"),
            });
          });
          ch.on("error", () => {});
          if (opts.stdin !== undefined) ch.end(opts.stdin);
          else ch.end();
        });
      } catch (error) {
        finish(live.closed ? this.lost() : this.channelRefused(error as Error));
      }
    });
  }

  /** Runs `use` with this connection's SFTP session, opening it once per connection. */
  private withFiles<T>(use: (files: SftpFiles) => Promise<T>): Promise<T> {
    return this.track(async () => {
      const live = await this.session();
      live.sftp ??= this.openSftp(live);
      const files = await live.sftp;
      return await new Promise<T>((resolve, reject) => {
        // A drop mid-transfer may leave an SFTP callback uncalled: the drop rejects instead.
        const onLost = (error: Error): void => reject(error);
        live.inFlight.add(onLost);
        use(files).then(resolve, reject).finally(() => live.inFlight.delete(onLost));
      });
    });
  }

  private openSftp(live: Live): Promise<SftpFiles> {
    const opened = new Promise<SftpFiles>((resolve, reject) => {
      live.client.sftp((error, sftp) => {
        if (error) {
          const { destination, hostname } = this.target;
          return reject(
            live.closed
              ? this.lost()
              : new SshRemoteSetupError(
                  destination,
                  `${hostname} refused an SFTP session (${error.message}): enable it in its sshd_config (\`Subsystem sftp internal-sftp\`)`,
                  { cause: error },
                ),
          );
        }
        sftp.on("close", () => {
          if (live.sftp === opened) live.sftp = undefined;
        });
        resolve(new SftpFiles(sftp));
      });
    });
    opened.catch(() => {
      if (live.sftp === opened) live.sftp = undefined;
    });
    return opened;
  }

  /** The live session, connecting if there is none (first use, or after a drop or close). */
  private session(): Promise<Live> {
    if (this.live) return this.live;
    const live = openSession(this.target).then(({ client, sock }): Live => {
      this.stats.connects++;
      const session: Live = { client, sock, closed: false, inFlight: new Set() };
      const dropped = (): void => {
        if (session.closed) return;
        session.closed = true;
        if (this.live === live) this.live = undefined;
        const error = this.lost();
        for (const reject of [...session.inFlight]) reject(error);
      };
      client.on("close", dropped);
      client.on("end", dropped);
      // ssh2 reports a reset socket as an error, then closes.
      client.on("error", () => {});
      if (this.busy === 0) sock.unref();
      return session;
    });
    this.live = live;
    live.catch(() => {
      if (this.live === live) this.live = undefined;
    });
    return live;
  }

  /** Counts an operation in flight: the socket keeps the process alive only while one is. */
  private async track<T>(operation: () => Promise<T>): Promise<T> {
    if (this.busy++ === 0) void this.live?.then((l) => l.sock.ref(), () => undefined);
    try {
      return await operation();
    } finally {
      if (--this.busy === 0) void this.live?.then((l) => l.sock.unref(), () => undefined);
    }
  }

  private lost(): SshConnectionLostError {
    return new SshConnectionLostError(this.target.destination, `the SSH connection to ${this.target.destination} closed`);
  }

  private channelRefused(error: Error): SshError {
    const { destination, hostname } = this.target;
    return new SshError(
      destination,
      `${hostname} refused a new session channel (${error.message}): its sshd allows fewer sessions per connection than maxSessions (${this.target.maxSessions}); lower maxSessions to its MaxSessions`,
      { cause: error },
    );
  }
}
