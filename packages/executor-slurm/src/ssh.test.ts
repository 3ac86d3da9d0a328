// Slurm through a login node: every command and file over SSH to an sshd on loopback, jobs on the one-node cluster.
import { dataDir } from "./test-support/env.js";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startSlurm, startSshd, type Slurm, type Sshd } from "@valence/test-services";
import { dispatchSync } from "valence";
import { executorContract } from "valence/executor/testing";
import { SlurmExecutor, type SlurmExecutorOptions, type SlurmSshOptions } from "./index.js";
import { SshShell } from "./ssh-shell.js";
import { SETTINGS_VAR } from "./test-support/settings.js";

const LIMIT = { timeout: 60_000 };
let dir: string;
let slurm: Slurm;
let sshd: Sshd;
let ssh: SlurmSshOptions;
let options: SlurmExecutorOptions;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "valence-slurm-ssh-"));
  [slurm, sshd] = await Promise.all([startSlurm(dir), startSshd(dir)]);
  ssh = { hostname: sshd.host, port: sshd.port, username: sshd.username, sshKeyFile: sshd.clientKeyFile, knownHostsFile: sshd.knownHostsFile };
  // The login shell over SSH has no SLURM_CONF: `env` gives it to every command and to the job.
  options = { ssh, env: slurm.env, partition: slurm.partition, remoteWorkdir: join(dir, "work") };
  process.env[SETTINGS_VAR] = JSON.stringify(options);
}, LIMIT);

after(async () => {
  await Promise.all([slurm?.stop(), sshd?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
}, LIMIT);

describe("over SSH", () => {
  test("the example graph: add then multiply, 28", LIMIT, async () => {
    const wf = await import("./test-support/workflows.js");
    const r = await dispatchSync(wf.workflow)(3, 4);
    assert.equal(r.status, "COMPLETED", String(r.error?.stack));
    assert.equal(r.result, 28);
    assert.deepEqual(await readdir(join(dir, "work", "tasks", r.dispatchId)), [], "task directories are cleaned up");
  });

  test("a host key that does not match known_hosts is refused, naming the host", LIMIT, async () => {
    const executor = new SlurmExecutor({ ...options, ssh: { ...ssh, knownHostsFile: sshd.wrongKnownHostsFile } });
    await assert.rejects(executor.validateCredentials(), (e: Error) => e.name === "HostKeyMismatchError" && e.message.includes("127.0.0.1"));
  });

  test("`~` and relative workdirs start at the login user's home", LIMIT, async () => {
    const { SshConnection } = await import("valence-executor-ssh");
    const shell = new SshShell(SshConnection.shared(ssh), ssh, {});
    // The sshd's user is the one running the tests, so its home is ours.
    assert.equal(await shell.resolvePath("~"), homedir());
    assert.equal(await shell.resolvePath("~/.cache/valence"), join(homedir(), ".cache/valence"));
    assert.equal(await shell.resolvePath("scratch/v"), join(homedir(), "scratch/v"));
    assert.equal(await shell.resolvePath("/abs/v"), "/abs/v");
  });
});

executorContract("slurm over ssh", () => new SlurmExecutor({ ...options, remoteWorkdir: join(dir, "contract") }), { concurrentTasks: 6, liveOutput: true });

test("after the contract: no job left in squeue", LIMIT, () => {
  const queued = execFileSync("squeue", ["-h", "-o", "%i %j %T"], { env: { ...process.env, ...slurm.env } }).toString();
  assert.equal(queued.trim(), "");
});
