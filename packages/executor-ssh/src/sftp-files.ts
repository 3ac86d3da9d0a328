/**
 * File operations over one SFTP session: promise-returning, with `mkdir -p`
 * and atomic replace (write a temp file, then rename over the target), so a
 * reader on the host never sees half a file.
 *
 * Paths are as the SFTP server takes them: relative ones start at the
 * remote user's home directory.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rename, stat, unlink } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import type { FileEntryWithStats, SFTPWrapper, Stats } from "ssh2";

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
const NO_SUCH_FILE = 2;
/** Bytes asked for per SFTP read: within what servers answer in one packet. */
const READ_PIECE = 32 * 1024;

export class SftpFiles {
  /** Directories known to exist, so a second write to a directory costs no extra round trip. */
  private readonly knownDirs = new Set<string>();

  constructor(private readonly sftp: SFTPWrapper) {}

  /** Replaces `path` with `data` atomically, creating its directory. */
  async writeFile(path: string, data: string | Buffer): Promise<void> {
    await this.mkdirp(posix.dirname(path));
    const tmp = tempName(path);
    try {
      await this.call<void>((cb) => this.sftp.writeFile(tmp, data, cb));
      await this.rename(tmp, path);
    } catch (error) {
      await this.unlinkQuietly(tmp);
      throw error;
    }
  }

  /** Copies a local file to `path` atomically (parallel chunked writes), creating its directory. */
  async uploadFile(localPath: string, path: string): Promise<void> {
    await this.mkdirp(posix.dirname(path));
    const tmp = tempName(path);
    try {
      await this.call<void>((cb) => this.sftp.fastPut(localPath, tmp, cb));
      await this.rename(tmp, path);
    } catch (error) {
      await this.unlinkQuietly(tmp);
      throw error;
    }
  }

  /** Copies a local file or directory tree to `path` (each file atomically). */
  async uploadTree(localPath: string, path: string): Promise<void> {
    if (!(await stat(localPath)).isDirectory()) return this.uploadFile(localPath, path);
    await this.mkdirp(path);
    for (const entry of await readdir(localPath)) await this.uploadTree(join(localPath, entry), posix.join(path, entry));
  }

  /** Copies a remote file or directory tree to `localPath` (each file through a temp file and a rename). */
  async downloadTree(path: string, localPath: string): Promise<void> {
    const remote = await this.stat(path);
    if (!remote) throw new Error(`${path} does not exist on the host`);
    if (remote.isDirectory()) {
      await mkdir(localPath, { recursive: true });
      const entries = await this.call<FileEntryWithStats[]>((cb) => this.sftp.readdir(path, cb));
      for (const entry of entries) await this.downloadTree(posix.join(path, entry.filename), join(localPath, entry.filename));
      return;
    }
    await mkdir(dirname(localPath), { recursive: true });
    const tmp = tempName(localPath);
    try {
      await this.call<void>((cb) => this.sftp.fastGet(path, tmp, cb));
      await rename(tmp, localPath);
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
  }

  /** The file's text, or undefined when there is no such file. */
  async readFile(path: string): Promise<string | undefined> {
    try {
      const data = await this.call<Buffer>((cb) => this.sftp.readFile(path, cb));
      return data.toString("utf8");
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** The file from byte `offset` to its end, as latin1 (for ASCII files: a task's output.jsonl), or undefined when there is no such file. */
  async readFrom(path: string, offset: number): Promise<string | undefined> {
    let handle: Buffer;
    try {
      handle = await this.call<Buffer>((cb) => this.sftp.open(path, "r", cb));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    try {
      const { size } = await this.call<Stats>((cb) => this.sftp.fstat(handle, cb));
      const parts: Buffer[] = [];
      // SFTP servers answer a read with at most their packet size: read in pieces up to the size seen.
      for (let at = offset; at < size; ) {
        const piece = Buffer.alloc(Math.min(READ_PIECE, size - at));
        const n = await new Promise<number>((resolve, reject) =>
          this.sftp.read(handle, piece, 0, piece.length, at, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead))),
        );
        if (n <= 0) break;
        parts.push(piece.subarray(0, n));
        at += n;
      }
      return Buffer.concat(parts).toString("latin1");
    } finally {
      await this.call<void>((cb) => this.sftp.close(handle, cb)).catch(() => undefined);
    }
  }

  async stat(path: string): Promise<Stats | undefined> {
    try {
      return await this.call<Stats>((cb) => this.sftp.stat(path, cb));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** `mkdir -p`: one round trip when the parent exists, which is the usual case. */
  async mkdirp(dir: string): Promise<void> {
    if (dir === "" || dir === "." || dir === "/" || this.knownDirs.has(dir)) return;
    try {
      await this.call<void>((cb) => this.sftp.mkdir(dir, cb));
    } catch (error) {
      const existing = await this.stat(dir);
      if (existing && !existing.isDirectory()) throw new Error(`cannot create directory ${dir}: a file of that name exists`);
      if (!existing) {
        const parent = posix.dirname(dir);
        if (parent === dir || !isMissing(error)) throw error;
        await this.mkdirp(parent);
        await this.call<void>((cb) => this.sftp.mkdir(dir, cb)).catch(async (again: unknown) => {
          // Another writer may have made it in between.
          if (!(await this.stat(dir))?.isDirectory()) throw again;
        });
      }
    }
    this.knownDirs.add(dir);
  }

  /** Forgets directories known to exist (after something removed them). */
  forgetDirs(prefix: string): void {
    for (const dir of this.knownDirs) if (dir === prefix || dir.startsWith(`${prefix}/`)) this.knownDirs.delete(dir);
  }

  /** Rename that replaces the target: OpenSSH's posix-rename, else unlink and rename. */
  private async rename(from: string, to: string): Promise<void> {
    try {
      await this.call<void>((cb) => this.sftp.ext_openssh_rename(from, to, cb));
      return;
    } catch (error) {
      if (!/not support/i.test((error as Error).message)) throw error;
    }
    await this.call<void>((cb) => this.sftp.rename(from, to, cb)).catch(async () => {
      await this.unlinkQuietly(to);
      await this.call<void>((cb) => this.sftp.rename(from, to, cb));
    });
  }

  private async unlinkQuietly(path: string): Promise<void> {
    await this.call<void>((cb) => this.sftp.unlink(path, cb)).catch(() => undefined);
  }

  /** Runs one callback-style SFTP call; a synchronous throw (unsupported extension, closed session) rejects too. */
  private call<T>(start: (cb: (error: Error | undefined | null, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      try {
        start((error, value) => (error ? reject(error) : resolve(value as T)));
      } catch (error) {
        reject(error);
      }
    });
  }
}

function tempName(path: string): string {
  return `${path}.${randomBytes(6).toString("hex")}.tmp`;
}

function isMissing(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === NO_SUCH_FILE;
}
