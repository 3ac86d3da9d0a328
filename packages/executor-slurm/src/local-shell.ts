/**
 * `ClusterShell` on this machine: it is a login node (or the only node), so
 * commands are child processes and the shared file system is the local one.
 */
import { spawn } from "node:child_process";
import { open, readFile, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { readFileFrom, writeTaskPackage, type TaskPackage } from "valence/executor";
import { COMMAND_TIMEOUT_MS, type ClusterShell, type CommandResult } from "./cluster-shell.js";

export class LocalShell implements ClusterShell {
  readonly where = "this machine";

  constructor(private readonly env: Readonly<Record<string, string>> = {}) {}

  run(command: string, options: { readonly timeoutMs?: number } = {}): Promise<CommandResult> {
    const timeoutMs = options.timeoutMs ?? COMMAND_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      // Own process group, so a command past its time limit is killed with its children.
      const child = spawn("/bin/sh", ["-c", command], { env: { ...process.env, ...this.env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (b: Buffer) => out.push(b));
      child.stderr.on("data", (b: Buffer) => err.push(b));
      const timer = setTimeout(() => {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        reject(new Error(`\`${command}\` did not finish within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
      });
    });
  }

  async resolvePath(path: string): Promise<string> {
    if (path === "~") return homedir();
    if (path.startsWith("~/")) return join(homedir(), path.slice(2));
    return isAbsolute(path) ? path : join(homedir(), path);
  }

  putPackage(pkg: TaskPackage, workdir: string): Promise<void> {
    return writeTaskPackage(pkg, workdir);
  }

  readFile(path: string): Promise<string | undefined> {
    return readFile(path, "utf8").catch(ifMissing);
  }

  async readTail(path: string, bytes: number): Promise<string | undefined> {
    const file = await open(path, "r").catch(ifMissing);
    if (!file) return undefined;
    try {
      const { size } = await file.stat();
      const length = Math.min(size, bytes);
      const buffer = Buffer.alloc(length);
      await file.read(buffer, 0, length, size - length);
      return buffer.toString("utf8");
    } finally {
      await file.close();
    }
  }

  readFrom(path: string, offset: number): Promise<string | undefined> {
    return readFileFrom(path, offset);
  }

  removeDir(path: string): Promise<void> {
    return rm(path, { recursive: true, force: true });
  }

  async close(): Promise<void> {}
}

function ifMissing(error: NodeJS.ErrnoException): undefined {
  if (error.code === "ENOENT") return undefined;
  throw error;
}
