// Whole dispatches on a real one-node Slurm cluster: results, failures with Slurm's own words, cancel.
import { dataDir } from "./test-support/env.js";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startSlurm, type Slurm } from "@valence/test-services";
import { cancel, dispatch, dispatchSync, getResult, type Result } from "valence";
import { SETTINGS_VAR } from "./test-support/settings.js";

const LIMIT = { timeout: 60_000 };
let dir: string;
let slurm: Slurm;
let wf: typeof import("./test-support/workflows.js");

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "valence-slurm-dispatch-"));
  slurm = await startSlurm(dir);
  process.env[SETTINGS_VAR] = JSON.stringify({ env: slurm.env, partition: slurm.partition, remoteWorkdir: join(dir, "work") });
  // For `executor: "slurm"` by name: the same settings from the config file.
  await writeFile(
    process.env.VALENCE_CONFIG as string,
    `[executors.slurm]\npartition = "${slurm.partition}"\nremoteWorkdir = "${join(dir, "work")}"\n[executors.slurm.env]\nSLURM_CONF = "${slurm.env.SLURM_CONF}"\n`,
  );
  wf = await import("./test-support/workflows.js");
}, LIMIT);

after(async () => {
  await slurm?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
}, LIMIT);

function squeue(): string {
  return execFileSync("squeue", ["-h", "-o", "%i %j %T"], { env: { ...process.env, ...slurm.env } }).toString().trim();
}

/** The Slurm job of the dispatch's only running task, once Slurm runs it. */
async function runningJob(): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const line = squeue().split("\n").find((l) => / valence-\S+ RUNNING$/.test(l));
    if (line) return line.split(" ")[0] as string;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no running valence job; squeue:\n${squeue()}`);
}

function nodeError(r: Result<unknown>, name: string): Error {
  const node = r.nodes.find((n) => n.name === name);
  assert.ok(node, `no node ${name} in ${r.nodes.map((n) => n.name).join(", ")}`);
  assert.equal(node.status, "FAILED");
  assert.ok(node.error);
  return node.error;
}

describe("dispatch on Slurm", () => {
  test("the example graph: add then multiply, 28", LIMIT, async () => {
    const r = await dispatchSync(wf.workflow)(3, 4);
    assert.equal(r.status, "COMPLETED", String(r.error?.stack));
    assert.equal(r.result, 28);
    assert.deepEqual(
      r.nodes.filter((n) => n.kind === "electron").map((n) => [n.name, n.output, n.executor]),
      [
        ["add", 7, "slurm"],
        ["multiply", 28, "slurm"],
      ],
    );
  });

  test("fan-out and fan-in: four squares in parallel jobs, summed by a fifth", LIMIT, async () => {
    const r = await dispatchSync(wf.sumOfSquares)(4);
    assert.equal(r.status, "COMPLETED", String(r.error?.stack));
    assert.equal(r.result, 1 + 4 + 9 + 16);
  });

  test("by name: `executor: \"slurm\"` with its options from the config file", LIMIT, async () => {
    const r = await dispatchSync(wf.byName)(41);
    assert.equal(r.status, "COMPLETED", String(r.error?.stack));
    assert.equal(r.result, 42);
    assert.equal(r.nodes.find((n) => n.name === "increment")?.executor, "slurm");
  });

  test("a task that throws fails its node with the task's own error", LIMIT, async () => {
    const r = await dispatchSync(wf.failing)("on purpose");
    assert.equal(r.status, "FAILED");
    assert.equal(nodeError(r, "boom").message, "boom: on purpose");
  });
});

describe("Slurm refuses or gives up on a job", () => {
  test("a bad sbatch option: the node's error carries sbatch's own message", LIMIT, async () => {
    const error = nodeError(await dispatchSync(wf.badOption)(), "badOption");
    assert.equal(error.name, "SlurmSubmitError");
    assert.match(error.message, /^sbatch refused the job of task "badOption" \(node \d+\) on this machine:\n/);
    assert.match(error.message, /unrecognized option '--no-such-option=1'/);
  });

  test("a partition that does not exist", LIMIT, async () => {
    const error = nodeError(await dispatchSync(wf.badPartition)(), "badPartition");
    assert.equal(error.name, "SlurmSubmitError");
    assert.match(error.message, /invalid partition specified: no-such-partition/);
  });

  test("more CPUs than the partition has: failed as unrunnable, and the job is cancelled", LIMIT, async () => {
    const error = nodeError(await dispatchSync(wf.tooManyCpus)(), "tooManyCpus");
    assert.match(error.message, /Slurm job \d+ can never start \(PENDING, Reason=PartitionConfig\)/);
    assert.equal(squeue(), "");
  });

  test("a failing prerun command: the task does not run, the error says why", LIMIT, async () => {
    const error = nodeError(await dispatchSync(wf.badPrerun)(), "badPrerun");
    assert.equal(error.name, "RemoteTaskError");
    assert.match(error.message, /exit code 97: a prerun command failed, so the task did not run/);
    assert.match(error.message, /no-such-command: command not found/);
    assert.match(error.message, /valence: prerun command failed with exit code 127: no-such-command --really/);
  });

  test("a job cancelled behind Valence's back (scancel) fails its node with that reason", LIMIT, async () => {
    const id = await dispatch(wf.snoozeFlow)(30_000);
    execFileSync("scancel", [await runningJob()], { env: { ...process.env, ...slurm.env } });
    const error = nodeError(await getResult(id, { wait: true }), "snooze");
    assert.match(error.message, /Slurm job \d+ was cancelled \(CANCELLED\) by scancel or an administrator, not by Valence/);
  });
});

describe("cancel", () => {
  test("cancelling the dispatch scancels its running job promptly", LIMIT, async () => {
    const id = await dispatch(wf.snoozeFlow)(30_000);
    const job = await runningJob();
    const started = Date.now();
    await cancel(id);
    const r = await getResult(id, { wait: true });
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.equal(r.status, "CANCELLED");
    assert.equal(r.nodes.find((n) => n.name === "snooze")?.status, "CANCELLED");
    // The dispatch reads CANCELLED at once; the executor's scancel and cleanup follow within moments.
    const taskDirs = join(dir, "work", "tasks", id);
    for (let i = 0; squeue() !== "" || (await readdir(taskDirs)).length > 0; i++) {
      assert.ok(i < 100, `5 s after the cancel, job ${job} is still in squeue (${squeue()}) or its files are left (${await readdir(taskDirs)})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
