// SSHExecutor driven task by task, as the dispatcher drives it, against a real OpenSSH server.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ExecutorDefinitionError, executorFromSpec, RemoteTaskError, type TaskOutcome } from "valence/executor";
import { outcomeValue } from "valence/executor/testing";
import {
  HostKeyMismatchError,
  HostKeyUnknownError,
  SSHExecutor,
  SshConnectError,
  SshConnection,
  SshKeyFileError,
  SshRemoteSetupError,
  type SSHExecutorOptions,
} from "./index.js";
import { connectionStats } from "./ssh-connection.js";
import { runnersIn } from "./test-support/remote-runners.js";
import { startTestHost, type TestHost } from "./test-support/sshd.js";
import { bundleContractElectrons, contractTask } from "./test-support/tasks.js";

const LIMIT = { timeout: 30_000 };
let host: TestHost;
let bundle: string;
/** Executors made by tests, torn down after. */
const made: SSHExecutor[] = [];

before(async () => {
  host = await startTestHost();
  bundle = await bundleContractElectrons(join(host.dir, "bundles"));
});
after(async () => {
  await Promise.all(made.map((e) => e.teardown()));
  await host?.stop();
});

function executor(extra: Partial<SSHExecutorOptions> = {}): SSHExecutor {
  const e = new SSHExecutor(host.options(extra));
  made.push(e);
  return e;
}

function run(e: SSHExecutor, name: string, args: unknown[], signal?: AbortSignal): Promise<TaskOutcome> {
  return e.execute(contractTask(bundle, name, args, signal));
}

function failure(outcome: TaskOutcome): Error {
  assert.ok(!outcome.ok, "expected the task to fail");
  return outcome.error;
}

/** Lines of `ps` on the host (which is this machine) naming `pattern`. */
async function remoteProcesses(e: SSHExecutor, pattern: string): Promise<string[]> {
  const r = await SshConnection.shared(e.target).exec(`ps -eo pid,pgid,args | grep -F ${JSON.stringify(pattern)} | grep -v grep || true`);
  return r.stdout.split("\n").filter(Boolean);
}

describe("SSHExecutor", () => {
  test("a task's outcome names the host it ran on as its lane (the dashboard's timeline row)", LIMIT, async () => {
    const e = executor();
    const outcome = await run(e, "contract.add", [1, 2]);
    assert.equal(outcomeValue(outcome), 3);
    assert.equal(outcome.lane, host.options().hostname);
  });

  test("uploads the runner and the bundle once per host: later tasks, concurrent tasks and other executors reuse them", LIMIT, async () => {
    const workdir = join(host.dir, "once");
    const first = executor({ remoteWorkdir: workdir });
    const conn = SshConnection.shared(first.target);
    const writes = () => connectionStats(conn).writes;
    const before = writes();
    assert.equal(outcomeValue(await run(first, "contract.add", [1, 2])), 3);
    assert.equal(writes() - before, 2, "runner and bundle");
    const values = await Promise.all([1, 2, 3, 4].map((i) => run(first, "contract.add", [i, 10])));
    assert.deepEqual(values.map(outcomeValue), [11, 12, 13, 14]);
    const rebuilt = executorFromSpec(SSHExecutor, first.toSpec()) as SSHExecutor;
    made.push(rebuilt);
    assert.equal(outcomeValue(await run(rebuilt, "contract.add", [5, 5])), 10);
    assert.equal(writes() - before, 2, "nothing uploaded again");
    // Another connection (another known_hosts file) finds the files on the host and uploads nothing.
    const copy = join(host.dir, "known_hosts_copy");
    copyFileSync(host.sshd.knownHostsFile, copy);
    const other = executor({ remoteWorkdir: workdir, knownHostsFile: copy });
    assert.equal(outcomeValue(await run(other, "contract.add", [6, 6])), 12);
    assert.equal(connectionStats(SshConnection.shared(other.target)).writes, 0);
    // What stays on the host: the runner and the bundle, no task directories.
    const left = (await conn.exec(`cd ${workdir} && find . -type f | sort`)).stdout.trim().split("\n");
    assert.equal(left.length, 2, left.join("\n"));
    assert.match(left[0] ?? "", /^\.\/bundles\/[0-9a-f]{64}\.mjs$/);
    assert.match(left[1] ?? "", /^\.\/valence-task-[0-9a-f]{16}\.mjs$/);
  });

  test("travels through its spec as options only, and the rebuilt executor runs tasks", LIMIT, async () => {
    const e = executor();
    await run(e, "contract.add", [1, 1]);
    const spec = e.toSpec();
    assert.equal(spec.plugin, "ssh");
    assert.deepEqual(Object.keys(spec.state), ["options"]);
    assert.doesNotThrow(() => JSON.stringify(spec));
  });

  test("a task that throws fails with the user's message and the remote stack", LIMIT, async () => {
    const error = failure(await run(executor(), "contract.fail", ["bad input on the host"]));
    assert.equal(error.message, "bad input on the host");
    assert.match(String(error.stack), /contract-electrons/);
  });

  test("a task that ends its runner fails alone with RemoteTaskError and the exit code; the next task gets a new runner", LIMIT, async () => {
    const workdir = join(host.dir, "exit");
    const e = executor({ remoteWorkdir: workdir, maxRunners: 1 });
    assert.equal(outcomeValue(await run(e, "contract.add", [1, 1])), 2);
    const [first] = await runnersIn(SshConnection.shared(e.target), workdir);
    const error = failure(await run(e, "contract.exit", [7]));
    assert.ok(error instanceof RemoteTaskError, error.stack);
    assert.match(error.message, /ended without a result \(the task runner ended \(exit code 7\) on 127\.0\.0\.1\)/);
    assert.equal(outcomeValue(await run(e, "contract.add", [2, 2])), 4);
    const now = await runnersIn(SshConnection.shared(e.target), workdir);
    assert.equal(now.length, 1);
    assert.notEqual(now[0], first);
  });

  test("a changed bundle reaches the host: two builds of one electron run side by side on one connection, a runner each", LIMIT, async () => {
    const workdir = join(host.dir, "two-bundles");
    const e = executor({ remoteWorkdir: workdir });
    const conn = SshConnection.shared(e.target);
    const [first, second] = await Promise.all(["v1", "v2"].map((tag) => bundleContractElectrons(join(host.dir, `bundles-${tag}`), tag)));
    assert.notEqual(first, second);
    const tagOf = async (bundlePath: string) => outcomeValue(await e.execute(contractTask(bundlePath, "contract.tag", [])));
    assert.equal(await tagOf(first as string), "v1");
    const before = connectionStats(conn).writes;
    // The second build is uploaded (one write: the runner is there already) and runs its own code, not the cached first.
    assert.deepEqual(await Promise.all([tagOf(second as string), tagOf(first as string)]), ["v2", "v1"]);
    assert.equal(connectionStats(conn).writes - before, 1, "only the new bundle is uploaded");
    assert.equal((await runnersIn(conn, workdir)).length, 2, "a runner per bundle");
    // Both stay in service: each answers again from its own runner.
    assert.deepEqual(await Promise.all([tagOf(first as string), tagOf(second as string)]), ["v1", "v2"]);
    assert.equal((await runnersIn(conn, workdir)).length, 2);
  });

  test("one runner on the host runs task after task", LIMIT, async () => {
    const workdir = join(host.dir, "reuse");
    const e = executor({ remoteWorkdir: workdir });
    for (let i = 0; i < 10; i++) assert.equal(outcomeValue(await run(e, "contract.add", [i, 1])), i + 1);
    assert.equal((await runnersIn(SshConnection.shared(e.target), workdir)).length, 1);
  });

  test("runner mode: cancel kills the task's runner on the host, and later tasks get a new one", LIMIT, async () => {
    const workdir = join(host.dir, "cancel-runner");
    const e = executor({ remoteWorkdir: workdir });
    const conn = SshConnection.shared(e.target);
    const controller = new AbortController();
    const running = run(e, "contract.sleep", [60_000], controller.signal);
    let seen: number[] = [];
    for (let i = 0; i < 200 && seen.length === 0; i++) {
      await sleep(50);
      seen = await runnersIn(conn, workdir);
    }
    assert.equal(seen.length, 1, "the task's runner runs on the host");
    await sleep(200); // the run line is in
    const started = Date.now();
    controller.abort();
    assert.equal(failure(await running).name, "TaskCancelledError");
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.deepEqual(await runnersIn(conn, workdir), [], "the runner is gone");
    assert.equal(outcomeValue(await run(e, "contract.add", [2, 3])), 5);
    assert.notDeepEqual(await runnersIn(conn, workdir), seen);
  });

  test("isolation \"process\": a task whose process exits fails with RemoteTaskError and the exit code", LIMIT, async () => {
    const error = failure(await run(executor({ isolation: "process" }), "contract.exit", [7]));
    assert.ok(error instanceof RemoteTaskError, error.stack);
    assert.match(error.message, /ended without a result \(exit code 7\)/);
  });

  test("isolation \"process\": cancel kills the task's process group on the host and removes its directory", LIMIT, async () => {
    const workdir = join(host.dir, "cancel");
    const e = executor({ remoteWorkdir: workdir, isolation: "process" });
    const controller = new AbortController();
    const task = contractTask(bundle, "contract.sleep", [60_000], controller.signal);
    const running = e.execute(task);
    let seen: string[] = [];
    for (let i = 0; i < 200 && seen.length < 2; i++) {
      await sleep(50);
      seen = await remoteProcesses(e, `${task.meta.dispatchId}/${task.meta.nodeId}-`);
    }
    assert.equal(seen.length, 2, `the shell and node of the task run on the host:\n${seen.join("\n")}`);
    const started = Date.now();
    controller.abort();
    const error = failure(await running);
    assert.equal(error.name, "TaskCancelledError");
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.deepEqual(await remoteProcesses(e, `${task.meta.dispatchId}/${task.meta.nodeId}-`), [], "no process of the task is left");
    const tasks = await SshConnection.shared(e.target).exec(`ls -A ${workdir}/tasks/${task.meta.dispatchId}`);
    assert.equal(tasks.stdout, "", "its directory is removed");
  });

  test("isolation \"process\": a cancel at any moment of a task's start leaves nothing running on the host", LIMIT, async () => {
    const e = executor({ remoteWorkdir: join(host.dir, "early"), isolation: "process" });
    await run(e, "contract.add", [1, 1]);
    const delays = [0, 10, 30, 60, 100, 150, 250, 400];
    const tasks = delays.map(() => {
      const controller = new AbortController();
      return { controller, task: contractTask(bundle, "contract.sleep", [60_000], controller.signal) };
    });
    const outcomes = tasks.map(({ task }) => e.execute(task));
    delays.forEach((ms, i) => setTimeout(() => tasks[i]?.controller.abort(), ms));
    for (const outcome of await Promise.all(outcomes)) assert.equal(failure(outcome).name, "TaskCancelledError");
    const pattern = `${tasks[0]?.task.meta.dispatchId}/`;
    let left = await remoteProcesses(e, pattern);
    for (let i = 0; i < 100 && left.length > 0; i++) {
      await sleep(50);
      left = await remoteProcesses(e, pattern);
    }
    assert.deepEqual(left, []);
  });

  for (const isolation of ["process", "runner"] as const) {
    test(`isolation "${isolation}": cancelling tasks still waiting for a channel never starts them`, LIMIT, async () => {
      const workdir = join(host.dir, `queued-${isolation}`);
      const e = executor({ remoteWorkdir: workdir, isolation });
      const controller = new AbortController();
      // More long tasks than a connection runs at once (6 of MaxSessions 10): the last ones queue.
      const running = Array.from({ length: 9 }, () => run(e, "contract.sleep", [60_000], controller.signal));
      if (isolation === "runner") {
        let runners: number[] = [];
        for (let i = 0; i < 400 && runners.length < 6; i++) {
          await sleep(50);
          runners = await runnersIn(SshConnection.shared(e.target), workdir);
        }
        assert.equal(runners.length, 6, "six runners, one per task channel; the other three tasks wait");
      }
      await sleep(1500);
      controller.abort();
      const outcomes = await Promise.all(running);
      for (const outcome of outcomes) assert.equal(failure(outcome).name, "TaskCancelledError");
      assert.deepEqual(await remoteProcesses(e, "dsp_sshtest0000/"), []);
      assert.deepEqual(await runnersIn(SshConnection.shared(e.target), workdir), [], "every runner that ran a task is killed");
    });
  }

  test("FileTransfer: putFile and getFile copy files and directory trees over SFTP", LIMIT, async () => {
    const e = executor();
    const local = join(host.dir, "transfer", "in");
    mkdirSync(join(local, "sub"), { recursive: true });
    writeFileSync(join(local, "a.txt"), "A");
    writeFileSync(join(local, "sub", "b.txt"), "B");
    const remote = join(host.dir, "transfer", "remote", "tree");
    await e.putFile(local, remote);
    assert.equal(readFileSync(join(remote, "sub", "b.txt"), "utf8"), "B");
    const back = join(host.dir, "transfer", "back");
    await e.getFile(remote, back);
    assert.equal(readFileSync(join(back, "a.txt"), "utf8"), "A");
    assert.equal(readFileSync(join(back, "sub", "b.txt"), "utf8"), "B");
    await e.getFile(join(remote, "a.txt"), join(host.dir, "transfer", "one.txt"));
    assert.equal(readFileSync(join(host.dir, "transfer", "one.txt"), "utf8"), "A");
  });

  // Correctness of many tasks on one connection; the timing is only reported (bench/ measures it properly).
  test("many trivial tasks one after another, and 20 at once, on one connection", { timeout: 180_000 }, async (t) => {
    const e = executor();
    await run(e, "contract.add", [0, 0]);
    let started = performance.now();
    for (let i = 0; i < 20; i++) assert.equal(outcomeValue(await run(e, "contract.add", [i, 1])), i + 1);
    const sequential = (performance.now() - started) / 20;
    started = performance.now();
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => run(e, "contract.add", [i, 2])));
    outcomes.forEach((o, i) => assert.equal(outcomeValue(o), i + 2));
    const concurrent = (performance.now() - started) / 20;
    // What one channel costs by itself (open, the login shell, close): the floor of a task's overhead.
    const conn = SshConnection.shared(e.target);
    started = performance.now();
    for (let i = 0; i < 5; i++) await conn.exec("true");
    const channel = (performance.now() - started) / 5;
    t.diagnostic(
      `ssh: ${sequential.toFixed(1)} ms/task sequential, ${concurrent.toFixed(1)} ms/task with 20 at once; ` +
        `an empty command costs ${channel.toFixed(1)} ms`,
    );
  });
});

describe("SSHExecutor: errors name what to fix, as the task's outcome, without hanging", () => {
  test("a changed host key fails with HostKeyMismatchError", LIMIT, async () => {
    const error = failure(await run(executor({ knownHostsFile: host.sshd.wrongKnownHostsFile }), "contract.add", [1, 1]));
    assert.ok(error instanceof HostKeyMismatchError, error.stack);
    assert.ok(error.message.includes(`ssh-keygen -R '[127.0.0.1]:${host.sshd.port}' -f ${host.sshd.wrongKnownHostsFile}`), error.message);
  });

  test("an empty known_hosts fails with HostKeyUnknownError and the ssh-keyscan hint", LIMIT, async () => {
    const empty = join(host.dir, "empty_known_hosts");
    writeFileSync(empty, "");
    const error = failure(await run(executor({ knownHostsFile: empty }), "contract.add", [1, 1]));
    assert.ok(error instanceof HostKeyUnknownError, error.stack);
    assert.match(error.message, /SHA256:[A-Za-z0-9+/]{43}/);
    assert.ok(error.message.includes(`ssh-keyscan -p ${host.sshd.port} 127.0.0.1 >> ${empty}`), error.message);
  });

  test("a key file that does not exist fails with SshKeyFileError", LIMIT, async () => {
    const error = failure(await run(executor({ sshKeyFile: join(host.dir, "missing_key") }), "contract.add", [1, 1]));
    assert.ok(error instanceof SshKeyFileError, error.stack);
    assert.match(error.message, /missing_key does not exist: set sshKeyFile/);
  });

  test("a closed port fails with SshConnectError, and the next task tries again", LIMIT, async () => {
    const e = executor({ port: 1 });
    for (let i = 0; i < 2; i++) {
      const error = failure(await run(e, "contract.add", [1, 1]));
      assert.ok(error instanceof SshConnectError, error.stack);
      assert.match(error.message, /cannot connect to 127\.0\.0\.1 port 1: connection refused/);
    }
  });

  test("a nodePath the host does not have fails with SshRemoteSetupError naming nodePath", LIMIT, async () => {
    const error = failure(await run(executor({ nodePath: "/opt/no/node" }), "contract.add", [1, 1]));
    assert.ok(error instanceof SshRemoteSetupError, error.stack);
    assert.match(error.message, /"\/opt\/no\/node" is not found on 127\.0\.0\.1 .*set nodePath/);
  });

  test("a working directory that cannot be made fails with SshRemoteSetupError naming remoteWorkdir", LIMIT, async () => {
    const file = join(host.dir, "a-file");
    writeFileSync(file, "");
    const error = failure(await run(executor({ remoteWorkdir: join(file, "sub") }), "contract.add", [1, 1]));
    assert.ok(error instanceof SshRemoteSetupError, error.stack);
    assert.match(error.message, /cannot create the working directory .*a-file\/sub .*Set remoteWorkdir/);
  });

  test("validate() names every bad option at once", () => {
    const e = new SSHExecutor({ hostname: "me@gpu1", port: 70000, host: "typo", connectTimeout: 0 } as unknown as SSHExecutorOptions);
    const error = (() => {
      try {
        e.validate();
      } catch (caught) {
        return caught as Error;
      }
      return assert.fail("validate() accepted bad options");
    })();
    assert.ok(error instanceof ExecutorDefinitionError);
    assert.match(error.message, /^ssh executor: /);
    for (const part of [/unknown option "host" \(known: hostname, port/, /hostname must be .*without user@.*"me@gpu1"/, /port must be .* 70000/, /connectTimeout must be .* 0/]) {
      assert.match(error.message, part);
    }
    assert.throws(() => new SSHExecutor({} as SSHExecutorOptions).validate(), /hostname must be .* got nothing/);
    const runnerOptions = new SSHExecutor({ hostname: "gpu1", isolation: "thread", maxRunners: 0, tasksPerRunner: 1.5 } as unknown as SSHExecutorOptions);
    assert.throws(
      () => runnerOptions.validate(),
      /isolation must be "runner" \(persistent runners, the default\) or "process" \(a node process per task\), got "thread"; maxRunners must be a whole number of at least 1, got 0; tasksPerRunner must be a whole number of at least 1, got 1\.5/,
    );
  });
});
