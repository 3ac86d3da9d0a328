/**
 * A real OpenSSH server on loopback for this package's tests, with the
 * executor options that reach it. One per test file: started in `before`,
 * stopped (and its temp dir removed) in `after`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSshd, type Sshd } from "@valence/test-services";
import type { SSHExecutorOptions } from "../options.js";

export interface TestHost {
  readonly sshd: Sshd;
  /** Temp dir of this test file: keys, configs, and the remote working dir below it. */
  readonly dir: string;
  /** Options of an executor that reaches the server, with its working dir inside `dir`. */
  options(extra?: Partial<SSHExecutorOptions>): SSHExecutorOptions;
  stop(): Promise<void>;
}

export async function startTestHost(): Promise<TestHost> {
  const dir = await mkdtemp(join(tmpdir(), "valence-ssh-"));
  let sshd: Sshd;
  try {
    sshd = await startSshd(dir);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    sshd,
    dir,
    options: (extra = {}) => ({
      hostname: sshd.host,
      port: sshd.port,
      username: sshd.username,
      sshKeyFile: sshd.clientKeyFile,
      knownHostsFile: sshd.knownHostsFile,
      remoteWorkdir: join(dir, "remote"),
      ...extra,
    }),
    stop: async () => {
      await sshd.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
