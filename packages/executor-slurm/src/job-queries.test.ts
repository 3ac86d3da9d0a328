// Slurm client command lines and the parsing of what they print, as Slurm 22.05 prints it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isInvalidJobId, parseSbatchOutput, parseScontrol, parseSqueue, scancelCommand, squeueCommand } from "./job-queries.js";
import { MIN_POLL_MS, POLL_GRID_MS, pollDelay } from "./job-watcher.js";

test("sbatch --parsable output: the id, and the cluster when there is one", () => {
  assert.deepEqual(parseSbatchOutput("42\n"), { id: "42" });
  assert.deepEqual(parseSbatchOutput("42;cluster2\n"), { id: "42", cluster: "cluster2" });
  assert.deepEqual(parseSbatchOutput("sbatch: warning: something\n43\n"), { id: "43" });
  assert.equal(parseSbatchOutput(""), undefined);
  assert.equal(parseSbatchOutput("Submitted batch job 42\n"), undefined);
});

test("squeue: one command for many jobs, states with reason and exit status", () => {
  assert.equal(squeueCommand(["1", "3"]), "squeue -h -t all -j 1,3 -O 'JobID:|,State:|,Reason:|,exit_code:|'");
  assert.equal(squeueCommand(["1"], "c2"), "squeue -h -t all -j 1 -O 'JobID:|,State:|,Reason:|,exit_code:|' --clusters=c2");
  const jobs = parseSqueue("1|COMPLETED|None|0|\n3|FAILED|NonZeroExitCode|768|\n5|PENDING|PartitionConfig|0|\n7|CANCELLED|None|15|\nCLUSTER: c2\n");
  assert.deepEqual(Object.fromEntries(jobs), {
    "1": { state: "COMPLETED", reason: "None", exitCode: 0 },
    "3": { state: "FAILED", reason: "NonZeroExitCode", exitCode: 3 },
    "5": { state: "PENDING", reason: "PartitionConfig", exitCode: 0 },
    "7": { state: "CANCELLED", reason: "None", exitCode: 0, signal: 15 },
  });
});

test("scontrol show job -o: JobState, Reason, ExitCode", () => {
  const line =
    "JobId=3 JobName=wrap UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=3:0 RunTime=00:00:00";
  assert.deepEqual(parseScontrol(line), { state: "FAILED", reason: "NonZeroExitCode", exitCode: 3 });
  assert.deepEqual(parseScontrol("JobId=4 JobState=CANCELLED Reason=None ExitCode=0:15"), { state: "CANCELLED", reason: "None", exitCode: 0, signal: 15 });
  assert.equal(parseScontrol(""), undefined);
  assert.ok(isInvalidJobId("slurm_load_jobs error: Invalid job id specified\n"));
  assert.ok(!isInvalidJobId("squeue: error: Unable to contact slurm controller"));
  assert.equal(scancelCommand("9"), "scancel 9");
});

test("polls: at least 100 ms apart, a quarter of the job's age, at most pollFreq, on a shared grid", () => {
  const now = 1_000_013;
  for (const [age, max, wanted] of [
    [0, 1000, MIN_POLL_MS],
    [2000, 1000, 500],
    [60_000, 1000, 1000],
    [60_000, 5000, 5000],
  ] as const) {
    const delay = pollDelay(age, max, now);
    assert.equal((now + delay) % POLL_GRID_MS, 0);
    assert.ok(delay >= wanted && delay < wanted + POLL_GRID_MS, `age ${age}: ${delay}`);
  }
});
