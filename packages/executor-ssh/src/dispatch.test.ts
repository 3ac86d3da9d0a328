// End to end, as a user runs it: dispatch a workflow whose electrons use `new SSHExecutor(...)`,
// against a real OpenSSH server on loopback, and read the result from the store.
import { dataDir } from "./test-support/env.js";
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { cancel, dispatch, getResult } from "valence";
import { SshConnection } from "./index.js";
import { runnersIn } from "./test-support/remote-runners.js";
import { startTestHost, type TestHost } from "./test-support/sshd.js";

const LIMIT = { timeout: 30_000 };
let host: TestHost;
let wf: typeof import("./test-support/workflows.js");

before(async () => {
  host = await startTestHost();
  const o = host.options();
  Object.assign(process.env, {
    VALENCE_TEST_SSH_HOST: o.hostname,
    VALENCE_TEST_SSH_PORT: String(o.port),
    VALENCE_TEST_SSH_USER: o.username,
    VALENCE_TEST_SSH_KEY: o.sshKeyFile,
    VALENCE_TEST_SSH_KNOWN_HOSTS: o.knownHostsFile,
    VALENCE_TEST_SSH_WORKDIR: o.remoteWorkdir,
  });
  wf = await import("./test-support/workflows.js");
});
after(async () => {
  await host?.stop();
});

describe("dispatch with SSHExecutor", () => {
  test("the design doc's example: add then multiply on the host, 28", LIMIT, async () => {
    const id = await dispatch(wf.workflow)(3, 4);
    const result = await getResult<number>(id, { wait: true });
    assert.equal(result.status, "COMPLETED", String(result.error?.message));
    assert.equal(result.result, 28);
    assert.ok(result.resultsDir.startsWith(dataDir));
    const text = result.toString();
    assert.match(text, /^Lattice Result\n/);
    assert.match(text, /add\(0\): 7\n/);
    assert.match(text, /multiply\(3\): 28\n/);
    for (const node of result.nodes.filter((n) => n.kind === "electron")) assert.equal(node.executor, "ssh");
  });

  test("tasks run in a process on the host, in its working directory", LIMIT, async () => {
    const result = await getResult<{ pid: number; cwd: string }>(await dispatch(wf.locate)(), { wait: true });
    assert.equal(result.status, "COMPLETED", String(result.error?.message));
    assert.notEqual(result.result?.pid, process.pid);
    assert.equal(result.result?.cwd, host.options().remoteWorkdir);
  });

  test("fan out and in: ten squares summed", LIMIT, async () => {
    const result = await getResult<number>(await dispatch(wf.sumOfSquares)(10), { wait: true });
    assert.equal(result.status, "COMPLETED", String(result.error?.message));
    assert.equal(result.result, 285);
    assert.equal(result.nodes.filter((n) => n.name === "square" && n.status === "COMPLETED").length, 10);
  });

  test("a task that throws on the host fails its node with the user's message and stack; the other branch completes", LIMIT, async () => {
    const result = await getResult(await dispatch(wf.failing)("bad input"), { wait: true });
    assert.equal(result.status, "FAILED");
    const node = result.nodes.find((n) => n.name === "explode");
    assert.equal(node?.status, "FAILED");
    assert.equal(node?.error?.message, "exploded on the host: bad input");
    assert.match(node?.error?.stack ?? "", /test-support\/workflows\.ts:\d+/);
    assert.equal(result.nodes.find((n) => n.name === "square")?.status, "COMPLETED");
    assert.match(result.error?.message ?? "", /node "explode\(\d+\)" failed: exploded on the host: bad input/);
  });

  test("cancel stops the task on the host: its runner is gone", LIMIT, async () => {
    const conn = SshConnection.shared(wf.ssh.target);
    const workdir = host.options().remoteWorkdir as string;
    const id = await dispatch(wf.napping)(60_000);
    for (let i = 0; i < 200 && (await getResult(id)).nodes[0]?.status !== "RUNNING"; i++) await sleep(50);
    await sleep(300); // the run line is in the runner
    // Earlier tests' runners idle beside it (one task per runner): the napping one is among these.
    const before = await runnersIn(conn, workdir);
    assert.ok(before.length > 0, "the task's runner runs on the host");
    const started = Date.now();
    await cancel(id);
    const result = await getResult(id, { wait: true });
    assert.ok(Date.now() - started < 10_000);
    assert.equal(result.status, "CANCELLED");
    assert.equal(result.nodes[0]?.status, "CANCELLED");
    // The dispatch is CANCELLED at once; the kill on the host follows within moments.
    const gone = async () => before.filter((pid) => !now.includes(pid));
    let now = await runnersIn(conn, workdir);
    for (let i = 0; i < 100 && (await gone()).length === 0; i++) {
      await sleep(50);
      now = await runnersIn(conn, workdir);
    }
    assert.equal((await gone()).length, 1, `exactly the task's runner is killed (before ${before.join(" ")}, now ${now.join(" ")})`);
  });
});
