// The executor contract on a real one-node Slurm cluster, plus what cancel must leave behind.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startSlurm, type Slurm } from "@valence/test-services";
import { executorContract } from "valence/executor/testing";
import { SlurmExecutor } from "./index.js";

let dir: string;
let slurm: Slurm;
let remoteWorkdir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "valence-slurm-contract-"));
  remoteWorkdir = join(dir, "work");
  slurm = await startSlurm(dir);
}, { timeout: 60_000 });

after(async () => {
  await slurm?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, { timeout: 60_000 });

executorContract("slurm", () => new SlurmExecutor({ env: slurm.env, partition: slurm.partition, remoteWorkdir }), { concurrentTasks: 6, liveOutput: true });

test("after the contract: no job left in squeue, no task directory left in the workdir", { timeout: 60_000 }, async () => {
  const queued = execFileSync("squeue", ["-h", "-o", "%i %j %T"], { env: { ...process.env, ...slurm.env } }).toString();
  assert.equal(queued.trim(), "", `jobs still in squeue:\n${queued}`);
  const tasks = await readdir(join(remoteWorkdir, "tasks", "dsp_contract0000"));
  assert.deepEqual(tasks, []);
});
