// The executor's polling against a scripted shell: batching, purged jobs, a controller that hiccups. No Slurm.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { executorFromSpec } from "valence/executor";
import type { ClusterShell, CommandResult } from "./cluster-shell.js";
import { SlurmExecutor, type SlurmJob } from "./slurm-executor.js";

class ScriptedShell implements ClusterShell {
  readonly where = "a scripted shell";
  readonly commands: string[] = [];
  constructor(private readonly answer: (command: string) => CommandResult) {}
  async run(command: string): Promise<CommandResult> {
    this.commands.push(command);
    return this.answer(command);
  }
  async resolvePath(path: string): Promise<string> {
    return path;
  }
  async putPackage(): Promise<void> {}
  async readFile(): Promise<string | undefined> {
    return undefined;
  }
  async readTail(): Promise<string | undefined> {
    return undefined;
  }
  async readFrom(): Promise<string | undefined> {
    return undefined;
  }
  async removeDir(): Promise<void> {}
  async close(): Promise<void> {}
}

class ScriptedSlurm extends SlurmExecutor {
  use(shell: ClusterShell): this {
    this.runtimeState("shell", () => Promise.resolve(shell));
    return this;
  }
}

const ok = (stdout: string): CommandResult => ({ code: 0, stdout, stderr: "" });
const job = (id: string): SlurmJob => ({ id, changedAt: Date.now(), ended: false });

describe("polling", () => {
  test("polls made together share one squeue, and each job gets its own state", async () => {
    const shell = new ScriptedShell(() => ok("1|PENDING|Priority|0|\n2|RUNNING|None|0|\n3|OUT_OF_MEMORY|OutOfMemory|0|\n"));
    const executor = new ScriptedSlurm({ memory: "1G" }).use(shell);
    const jobs = [job("1"), job("2"), job("3")];
    const statuses = await Promise.all(jobs.map((j) => executor.pollTask(j)));
    assert.deepEqual(shell.commands, ["squeue -h -t all -j 1,2,3 -O 'JobID:|,State:|,Reason:|,exit_code:|'"]);
    assert.deepEqual(statuses, [
      { state: "pending" },
      { state: "running" },
      { state: "failed", reason: "Slurm job 3 ran out of memory (memory 1G) (OUT_OF_MEMORY): raise `memory`" },
    ]);
    assert.deepEqual(
      jobs.map((j) => j.ended),
      [false, false, true],
    );
  });

  test("a job squeue no longer lists is asked of scontrol; one Slurm has forgotten is done", async () => {
    const shell = new ScriptedShell((command) => {
      if (command.startsWith("squeue")) return { code: 1, stdout: "", stderr: "slurm_load_jobs error: Invalid job id specified\n" };
      if (command === "scontrol show job -o 7") return ok("JobId=7 JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15\n");
      return { code: 1, stdout: "", stderr: "slurm_load_jobs error: Invalid job id specified\n" };
    });
    const executor = new ScriptedSlurm({ time: 5 }).use(shell);
    const [timedOut, gone] = await Promise.all([executor.pollTask(job("7")), executor.pollTask(job("8"))]);
    assert.deepEqual(timedOut, { state: "failed", reason: "Slurm job 7 reached its time limit of 5 (TIMEOUT): raise `time`" });
    assert.deepEqual(gone, { state: "done" });
    assert.deepEqual(shell.commands.slice(1).sort(), ["scontrol show job -o 7", "scontrol show job -o 8"]);
  });

  test("a controller that fails a poll does not fail a running job, until it has failed for too long", async () => {
    let down = false;
    const shell = new ScriptedShell(() =>
      down ? { code: 1, stdout: "", stderr: "squeue: error: slurm_load_jobs error: Socket timed out on send/recv operation\n" } : ok("4|RUNNING|None|0|\n"),
    );
    const executor = new ScriptedSlurm({}).use(shell);
    const j = job("4");
    assert.deepEqual(await executor.pollTask(j), { state: "running" });
    down = true;
    assert.deepEqual(await executor.pollTask(j), { state: "running" });
    j.failingSince = Date.now() - 10 * 60_000;
    await assert.rejects(executor.pollTask(j), (e: Error) => e.name === "SlurmCommandError" && /squeue failed on a scripted shell \(exit code 1\): .*Socket timed out/.test(e.message));
    down = false;
    assert.deepEqual(await executor.pollTask(j), { state: "running" });
    assert.equal(j.failingSince, undefined);
  });
});

test("travels as its options only, and works when rebuilt without its constructor", () => {
  const executor = new SlurmExecutor({ partition: "debug", env: { SLURM_CONF: "/x" }, sbatchOptions: { qos: "low" } });
  const spec = JSON.parse(JSON.stringify(executor.toSpec())) as ReturnType<SlurmExecutor["toSpec"]>;
  assert.deepEqual(spec, { plugin: "slurm", state: { options: { partition: "debug", env: { SLURM_CONF: "/x" }, sbatchOptions: { qos: "low" } } } });
  const rebuilt = executorFromSpec(SlurmExecutor, spec);
  assert.ok(rebuilt instanceof SlurmExecutor);
  assert.equal(rebuilt.pluginName, "slurm");
  assert.doesNotThrow(() => rebuilt.validate());
});
