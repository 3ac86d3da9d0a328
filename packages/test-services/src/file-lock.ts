import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

/** An exclusive lock held until `release()`; see {@link acquireFileLock}. */
export interface FileLock {
  release(): Promise<void>;
}

const FLOCK_PATHS = ["/usr/bin/flock", "/bin/flock"];

/**
 * Takes an exclusive flock(1) on `path`, waiting for it as long as needed. Node has no
 * flock, so a small `flock PATH cat` child holds the lock: closing its stdin ends `cat` and
 * frees the lock, and so does this process dying (the pipe closes), so a crashed test
 * never leaves the lock taken. Without flock(1) this returns a no-op lock: the callers'
 * own safety nets (apt's lock timeout) still apply.
 */
export async function acquireFileLock(path: string): Promise<FileLock> {
  const flock = FLOCK_PATHS.find((p) => existsSync(p));
  if (flock === undefined) return { release: async () => {} };
  const holder = spawn(flock, ["--exclusive", path, "sh", "-c", "echo locked; exec cat >/dev/null"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => holder.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    holder.once("error", reject);
    holder.stdout.once("data", () => resolve());
    holder.once("exit", (code) => reject(new Error(`flock ${path} exited with code ${code} before locking`)));
  });
  // The holder must not keep the event loop (and so a finished test process) alive.
  holder.unref();
  (holder.stdout as unknown as { unref?: () => void }).unref?.();
  (holder.stdin as unknown as { unref?: () => void }).unref?.();
  return {
    release: async () => {
      // Hold the event loop open again until the lock is really released.
      holder.ref();
      holder.stdin.end();
      await exited;
    },
  };
}
