/**
 * rsync over SSH with the real `rsync` and `ssh` binaries of the place where
 * the task runs: rsync streams, resumes and skips unchanged files, which is
 * what large data sets want. Addresses are rsync's own: `[user@]host:path`.
 */
import { spawn } from "node:child_process";
import { TransferError, TransferSourceMissingError } from "../../errors.js";
import { localSize } from "./local-file.js";
import type { TransferStrategy } from "./strategy.js";

export interface RsyncTransferOptions {
  /** The SSH port (default: ssh's own, usually 22). */
  readonly port?: number;
  /** The private key to log in with (`ssh -i`). */
  readonly identityFile?: string;
  /** A known_hosts file to check the host key against; host keys are always checked (`StrictHostKeyChecking=yes`). */
  readonly knownHostsFile?: string;
  /** More `ssh -o` options, e.g. `["ConnectTimeout=10"]`. */
  readonly sshOptions?: readonly string[];
  /** More rsync arguments, e.g. `["--compress"]`. */
  readonly rsyncArgs?: readonly string[];
  /** The rsync binary (default `rsync` on PATH). */
  readonly rsync?: string;
}

/** `[user@]host:path` — a host is letters, digits, dots and dashes (or an IPv6 address in brackets). */
const ADDRESS = /^(?:[^@\s/:]+@)?(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?!\/\/).+$/;

/** rsync's "some files could not be transferred" and "vanished" exits, with the message that means a missing source. */
const PARTIAL_EXITS = new Set([23, 24]);
const NO_SUCH_FILE = /No such file or directory/;

/**
 * @example
 *   FileTransfer("alice@data.example.org:/srv/in.csv", "in.csv", { strategy: new RsyncTransfer({ identityFile: "~/.ssh/id_ed25519" }) });
 */
export class RsyncTransfer implements TransferStrategy {
  readonly name = "rsync";

  constructor(private readonly options: RsyncTransferOptions = {}) {
    if (options.port !== undefined && !(Number.isInteger(options.port) && options.port > 0 && options.port < 65536)) {
      throw new TypeError(`RsyncTransfer: port must be an integer from 1 to 65535, got ${JSON.stringify(options.port)}`);
    }
  }

  validate(address: string): void {
    if (!isRsyncAddress(address)) throw new TypeError(`${JSON.stringify(address)} is not an rsync address (write user@host:/path)`);
  }

  async download(from: string, toPath: string): Promise<void> {
    this.validate(from);
    await this.#rsync(from, toPath, from);
  }

  async upload(fromPath: string, to: string): Promise<void> {
    this.validate(to);
    await localSize(fromPath, this.name);
    await this.#rsync(fromPath, to, fromPath);
  }

  /** The `-e` command: rsync splits it on spaces and honours quotes. */
  #sshCommand(): string {
    const o = this.options;
    const parts = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"];
    if (o.port !== undefined) parts.push("-p", String(o.port));
    if (o.identityFile !== undefined) parts.push("-i", o.identityFile, "-o", "IdentitiesOnly=yes");
    if (o.knownHostsFile !== undefined) parts.push("-o", `UserKnownHostsFile=${o.knownHostsFile}`);
    for (const option of o.sshOptions ?? []) parts.push("-o", option);
    return parts.map(quoteForRsync).join(" ");
  }

  #rsync(source: string, target: string, sourceName: string): Promise<void> {
    // --mkpath: the target's directories are made on either side; --partial-dir keeps a resumable piece out of the target's name.
    const args = ["--archive", "--mkpath", "--partial-dir=.rsync-partial", "-e", this.#sshCommand(), ...(this.options.rsyncArgs ?? []), "--", source, target];
    return new Promise((resolvePromise, reject) => {
      const child = spawn(this.options.rsync ?? "rsync", args, { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => {
        // Keep the end: rsync's last lines say why it stopped.
        stderr = (stderr + chunk.toString()).slice(-4000);
      });
      child.on("error", (error) =>
        reject(new TransferError(`cannot run rsync (${error.message}); install it where the task runs (apt-get install rsync)`, this.name, sourceName)),
      );
      child.on("close", (code, signal) => {
        if (code === 0) return resolvePromise();
        const tail = stderr.trim().split("\n").slice(-4).join("\n");
        const Kind = code !== null && PARTIAL_EXITS.has(code) && NO_SUCH_FILE.test(stderr) ? TransferSourceMissingError : TransferError;
        reject(new Kind(`rsync ${source} → ${target} exited with ${signal ?? code}${tail ? `: ${tail}` : ""}`, this.name, sourceName));
      });
    });
  }
}

export function isRsyncAddress(address: string): boolean {
  return ADDRESS.test(address);
}

function quoteForRsync(word: string): string {
  // rsync's -e parser: single quotes keep spaces, and a doubled single quote inside them is one quote.
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "''")}'`;
}
