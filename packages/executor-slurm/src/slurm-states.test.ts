// What each Slurm job state becomes for a Valence node: the whole table, no Slurm.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isTerminal, remoteStatus, SLURM_STATES, type JobInfo } from "./slurm-states.js";

const info = (state: string, more: Partial<JobInfo> = {}): JobInfo => ({ state, reason: "None", ...more });

test("every Slurm state maps to pending, running, done or failed", () => {
  const table: Record<string, string> = {};
  for (const state of SLURM_STATES) table[state] = remoteStatus("12", info(state)).state;
  assert.deepEqual(table, {
    PENDING: "pending",
    CONFIGURING: "pending",
    REQUEUED: "pending",
    REQUEUE_FED: "pending",
    REQUEUE_HOLD: "pending",
    RESV_DEL_HOLD: "pending",
    RUNNING: "running",
    COMPLETING: "running",
    SIGNALING: "running",
    STAGE_OUT: "running",
    RESIZING: "running",
    SUSPENDED: "running",
    STOPPED: "running",
    COMPLETED: "done",
    FAILED: "failed",
    TIMEOUT: "failed",
    CANCELLED: "failed",
    OUT_OF_MEMORY: "failed",
    NODE_FAIL: "failed",
    PREEMPTED: "failed",
    BOOT_FAIL: "failed",
    DEADLINE: "failed",
    SPECIAL_EXIT: "failed",
    REVOKED: "failed",
  });
  // Terminal means Slurm will not run it again by itself: exactly the done and failed ones.
  for (const state of SLURM_STATES) assert.equal(isTerminal(info(state)), ["done", "failed"].includes(table[state] as string), state);
});

test("failed states read as what to change", () => {
  const reason = (i: JobInfo, options = {}) => {
    const s = remoteStatus("12", i, options);
    assert.equal(s.state, "failed");
    return s.state === "failed" ? s.reason : "";
  };
  assert.equal(reason(info("OUT_OF_MEMORY")), "Slurm job 12 ran out of memory (OUT_OF_MEMORY): raise `memory`");
  assert.equal(reason(info("OUT_OF_MEMORY"), { memory: "1G" }), "Slurm job 12 ran out of memory (memory 1G) (OUT_OF_MEMORY): raise `memory`");
  assert.equal(reason(info("TIMEOUT", { reason: "TimeLimit" }), { time: 1 }), "Slurm job 12 reached its time limit of 1 (TIMEOUT): raise `time`");
  assert.equal(reason(info("FAILED", { reason: "NonZeroExitCode", exitCode: 3 })), "Slurm job 12 failed (FAILED, exit code 3)");
  assert.equal(reason(info("FAILED", { reason: "NonZeroExitCode", exitCode: 0, signal: 9 })), "Slurm job 12 failed (FAILED, killed by signal 9)");
  assert.match(reason(info("FAILED", { exitCode: 97 })), /exit code 97: a prerun command failed, so the task did not run/);
  assert.match(reason(info("FAILED", { reason: "launch_failed_requeued_held" })), /Reason=launch_failed_requeued_held/);
  assert.match(reason(info("CANCELLED")), /^Slurm job 12 was cancelled \(CANCELLED\) by scancel or an administrator, not by Valence$/);
  assert.match(reason(info("NODE_FAIL")), /lost its node \(NODE_FAIL\).*retries/);
  assert.match(reason(info("PREEMPTED")), /was preempted \(PREEMPTED\)/);
});

test("a pending job that can never start fails instead of waiting forever", () => {
  const s = remoteStatus("5", info("PENDING", { reason: "PartitionConfig" }));
  assert.deepEqual(s, {
    state: "failed",
    reason:
      "Slurm job 5 can never start (PENDING, Reason=PartitionConfig): it asks for more than its partition has (cpusPerTask, memory or node count): lower them or choose another partition",
  });
  // Waiting for resources or priority is normal.
  for (const reason of ["Resources", "Priority", "None", "BeginTime", "JobHeldUser"]) {
    assert.deepEqual(remoteStatus("5", info("PENDING", { reason })), { state: "pending" });
  }
});

test("a state newer than the table keeps the task waiting", () => {
  assert.deepEqual(remoteStatus("5", info("SOME_FUTURE_STATE")), { state: "running" });
});
