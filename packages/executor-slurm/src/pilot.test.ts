// Pilot jobs (`isolation: "pilot"`) on a real one-node Slurm cluster: the contract, one job for many tasks,
// a task that ends its runner, cancel, the idle exit, a pilot that dies, and the cost per task against a job per task.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import { build } from "esbuild";
import { isAlive as alive, startSlurm, type Slurm } from "@valence/test-services";
import { TaskCancelledError, type Task, type TaskOutcome } from "valence/executor";
import { executorContract, outcomeValue } from "valence/executor/testing";
import type { DispatchId, NodeId } from "valence";
import { SlurmExecutor, type SlurmExecutorOptions } from "./index.js";

const LIMIT = { timeout: 60_000 };
let dir: string;
let slurm: Slurm;
let bundlePath: string;
let nodeId = 0;

/** The contract suite's electrons ("contract.add", "contract.sleep", …), bundled into one file as a dispatch would. */
async function fixtureBundle(into: string): Promise<string> {
  const entry = createRequire(import.meta.url)
    .resolve("valence/package.json")
    .replace(/package\.json$/, "dist/executor/test-support/fixtures/contract-electrons.js");
  await mkdir(into, { recursive: true });
  const outfile = join(into, "c0ffee0000pilot.mjs");
  await build({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", outfile, logLevel: "warning" });
  return outfile;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "valence-slurm-pilot-"));
  slurm = await startSlurm(dir);
  bundlePath = await fixtureBundle(join(dir, "bundles"));
}, LIMIT);

after(async () => {
  await slurm?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, LIMIT);

let workdirs = 0;
function pilotExecutor(options: SlurmExecutorOptions = {}): SlurmExecutor {
  return new SlurmExecutor({ env: slurm.env, partition: slurm.partition, remoteWorkdir: join(dir, `work-${++workdirs}`), isolation: "pilot", ...options });
}

function task(electron: string, args: unknown[], signal = new AbortController().signal): Task {
  return {
    meta: { dispatchId: "dsp_pilot00000" as DispatchId, nodeId: ++nodeId as unknown as NodeId, resultsDir: dir },
    electronId: electron as Task["electronId"],
    electronName: electron.replace(/^contract\./, ""),
    fn: () => undefined,
    args,
    kwargs: {},
    bundlePath,
    signal,
  };
}

function squeue(...args: string[]): string {
  return execFileSync("squeue", ["-h", ...args], { env: { ...process.env, ...slurm.env } }).toString().trim();
}

/** `--serve` runners whose working directory is `workdir`: the runners of that executor's pilots. */
function runnersIn(workdir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
      if (cmd.includes("--serve") && readlinkSync(`/proc/${name}/cwd`) === workdir) pids.push(Number(name));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return pids;
}


async function until<T>(what: string, probe: () => T | undefined): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function failure(outcome: TaskOutcome): Error {
  assert.ok(!outcome.ok, "expected the task to fail");
  return outcome.error;
}

executorContract("slurm pilot", () => pilotExecutor(), { concurrentTasks: 6, liveOutput: true });

describe("Slurm pilot jobs", () => {
  test("without pilots, a task's timeline row is its own Slurm job", LIMIT, async () => {
    const executor = pilotExecutor({ isolation: "job" });
    try {
      const outcome = await executor.execute(task("contract.add", [2, 2]));
      assert.equal(outcomeValue(outcome), 4);
      assert.match(outcome.lane ?? "", /^slurm job \d+$/);
    } finally {
      await executor.teardown();
    }
  });

  test("tasks in a row share one Slurm job", LIMIT, async () => {
    const executor = pilotExecutor();
    try {
      const outcomes = [];
      for (let i = 0; i < 8; i++) {
        const outcome = await executor.execute(task("contract.add", [i, 1]));
        assert.equal(outcomeValue(outcome), i + 1);
        outcomes.push(outcome);
      }
      assert.equal(executor.fleet().jobIds.length, 1, `pilot jobs: ${executor.fleet().jobIds.join(", ")}`);
      // Each task's timeline row is the pilot job that ran it.
      assert.deepEqual(new Set(outcomes.map((o) => o.lane)), new Set([`slurm job ${executor.fleet().jobIds[0]}`]));
    } finally {
      await executor.teardown();
    }
  });

  test("a task that calls process.exit fails alone, with its exit code and the pilot's job id; the next task runs on the same pilot", LIMIT, async () => {
    const executor = pilotExecutor();
    try {
      const error = failure(await executor.execute(task("contract.exit", [3])));
      assert.equal(error.name, "RemoteTaskError");
      assert.match(error.message, /ended without a result \(the task runner ended \(exit code 3\) in Slurm pilot job \d+\)/);
      assert.equal(outcomeValue(await executor.execute(task("contract.add", [2, 3]))), 5);
      assert.equal(executor.fleet().jobIds.length, 1);
    } finally {
      await executor.teardown();
    }
  });

  test("cancel kills the task's process, and the pilot keeps serving", LIMIT, async () => {
    const executor = pilotExecutor();
    const workdir = executor.options.remoteWorkdir as string;
    try {
      const controller = new AbortController();
      const running = executor.execute(task("contract.sleep", [60_000], controller.signal));
      const [pid] = await until("the task's runner", () => {
        const pids = runnersIn(workdir);
        return pids.length > 0 ? pids : undefined;
      });
      controller.abort(new TaskCancelledError("cancelled by the test"));
      const error = failure(await running);
      assert.equal(error.name, "TaskCancelledError");
      await until("the runner to be gone", () => (alive(pid as number) ? undefined : true));
      assert.equal(outcomeValue(await executor.execute(task("contract.add", [20, 22]))), 42);
      assert.equal(executor.fleet().jobIds.length, 1);
    } finally {
      await executor.teardown();
    }
  });

  test("a pilot exits after pilotIdle seconds without tasks: its job ends and the allocation is released", LIMIT, async () => {
    const executor = pilotExecutor({ pilotIdle: 1 });
    assert.equal(outcomeValue(await executor.execute(task("contract.add", [1, 1]))), 2);
    const [job] = executor.fleet().jobIds;
    assert.ok(job);
    // No teardown here: the pilot leaves by itself.
    await until(`pilot job ${job} to leave squeue`, () => (squeue("-j", job, "-o", "%T") === "" ? true : undefined));
    const state = execFileSync("scontrol", ["show", "job", "-o", job], { env: { ...process.env, ...slurm.env } }).toString();
    assert.match(state, /JobState=COMPLETED/);
    await executor.teardown();
  });

  test("a pilot job killed under a task fails that task with the job id and its state; the next task gets a new pilot", LIMIT, async () => {
    const executor = pilotExecutor();
    try {
      const running = executor.execute(task("contract.sleep", [60_000]));
      const workdir = executor.options.remoteWorkdir as string;
      await until("the task's runner", () => (runnersIn(workdir).length > 0 ? true : undefined));
      const [job] = executor.fleet().jobIds;
      execFileSync("scancel", [job as string], { env: { ...process.env, ...slurm.env } });
      const error = failure(await running);
      assert.match(error.message, new RegExp(`Slurm pilot job ${job} was cancelled \\(CANCELLED\\) by scancel or an administrator, not by Valence, while running the task`));
      assert.equal(outcomeValue(await executor.execute(task("contract.add", [1, 2]))), 3);
      assert.equal(executor.fleet().jobIds.length, 2);
    } finally {
      await executor.teardown();
    }
  });

  test("a pilot whose prerun command fails fails the queued task with the reason, without sbatching again", LIMIT, async () => {
    const executor = pilotExecutor({ prerunCommands: ["no-such-command --really"] });
    try {
      const error = failure(await executor.execute(task("contract.add", [1, 2])));
      assert.match(error.message, /Slurm pilot job \d+ failed \(FAILED, exit code 97: a prerun command failed, so the task did not run\), before it could run the task/);
      assert.match(error.message, /no-such-command: command not found/);
      assert.equal(executor.fleet().jobIds.length, 1);
    } finally {
      await executor.teardown();
    }
  });

  test("options: each bad pilot option is named", () => {
    assert.throws(() => new SlurmExecutor({ isolation: "pilots" as "pilot" }), /isolation must be "job" \(a Slurm job per task, the default\) or "pilot"/);
    assert.throws(() => new SlurmExecutor({ pilotIdle: 0 }), /pilotIdle must be a number of seconds above 0, got 0/);
    assert.throws(() => new SlurmExecutor({ tasksPerPilot: 1.5 }), /tasksPerPilot must be a whole number above 0, got 1.5/);
    assert.throws(() => new SlurmExecutor({ maxPilots: 0 }), /maxPilots must be a whole number above 0, got 0/);
  });

  test("cost per task of a chain of 20 trivial tasks: a job each vs pilot jobs", { timeout: 180_000 }, async (t) => {
    const perTask = async (executor: SlurmExecutor): Promise<number> => {
      const started = Date.now();
      for (let i = 0; i < 20; i++) assert.equal(outcomeValue(await executor.execute(task("contract.add", [i, 1]))), i + 1);
      return (Date.now() - started) / 20;
    };
    const jobs = new SlurmExecutor({ env: slurm.env, partition: slurm.partition, remoteWorkdir: join(dir, "work-jobs") });
    const pilots = pilotExecutor();
    try {
      const jobMs = await perTask(jobs);
      const pilotMs = await perTask(pilots);
      t.diagnostic(`chain of 20 trivial tasks: a job per task ${jobMs.toFixed(0)} ms/task; pilot ${pilotMs.toFixed(0)} ms/task (${pilots.fleet().jobIds.length} pilot job(s), the first task's sbatch and start included)`);
    } finally {
      await Promise.all([jobs.teardown(), pilots.teardown()]);
    }
  });

  test("after the tests: every pilot has left squeue", LIMIT, async () => {
    await until("an empty squeue", () => (squeue("-o", "%i %j %T") === "" ? true : undefined)).catch(() => {
      assert.fail(`jobs still in squeue:\n${squeue("-o", "%i %j %T")}`);
    });
  });
});
