import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startSlurm, type Slurm } from "./index.js";

function slurmCmd(slurm: Slurm, command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env: { ...process.env, ...slurm.env }, timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")}: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

async function waitForJobState(slurm: Slurm, jobId: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let state = "";
  while (Date.now() < deadline) {
    const out = await slurmCmd(slurm, "scontrol", ["show", "job", jobId]);
    state = /JobState=(\S+)/.exec(out)?.[1] ?? "";
    if (!["PENDING", "CONFIGURING", "RUNNING", "COMPLETING"].includes(state)) return state;
    await sleep(100);
  }
  throw new Error(`job ${jobId} still ${state} after ${timeoutMs} ms`);
}

describe("startSlurm", () => {
  let dir: string;
  let slurm: Slurm;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "valence-slurm-"));
    slurm = await startSlurm(dir);
  });

  after(async () => {
    await slurm?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("has the debug partition with the node idle", async () => {
    const out = await slurmCmd(slurm, "sinfo", ["-h", "-p", slurm.partition, "-o", "%P %T %N"]);
    assert.match(out.trim(), /^debug\*? (idle|mixed|allocated) localhost$/);
  });

  it("runs a batch job to completion and keeps its output", async () => {
    // A token unique to this run, so output from another Slurm instance cannot pass the test.
    const token = `hi-${process.pid}-${Date.now()}`;
    const jobId = (
      await slurmCmd(slurm, "sbatch", ["--parsable", "-p", slurm.partition, "-D", dir, "-o", join(dir, "%j.out"), "--wrap", `echo ${token}`])
    ).trim();
    assert.match(jobId, /^\d+$/);
    assert.equal(await waitForJobState(slurm, jobId), "COMPLETED");
    assert.equal((await readFile(join(dir, `${jobId}.out`), "utf8")).trim(), token);
  });
});
