import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { bundleEntry } from "../../engine/bundle/bundler.js";
import { RemoteExecutorError, RemoteTaskError } from "../../errors.js";
import { asNodeId, type DispatchId } from "../../ids.js";
import type { RegisteredElectron } from "../../sdk/global-registry.js";
import { executorContract } from "../test-support/contract.js";
import * as fx from "../test-support/fixtures/contract-electrons.js";
import { SubprocessExecutor } from "../test-support/subprocess-executor.js";
import type { Task } from "../task.js";

const FIXTURE = fileURLToPath(new URL("../test-support/fixtures/contract-electrons.ts", import.meta.url));
const LIMIT = { timeout: 30_000 };

let workdir: string;
before(async () => {
  workdir = await mkdtemp(join(tmpdir(), "valence-remote-"));
});
after(async () => {
  await rm(workdir, { recursive: true, force: true });
});

executorContract("remote (subprocess)", () => new SubprocessExecutor(workdir), { concurrentTasks: 20, liveOutput: true });

describe("RemoteExecutor lifecycle", () => {
  let dir: string;
  let bundlePath: string;
  let nodeId = 100;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "valence-remote-life-"));
    bundlePath = (await bundleEntry(FIXTURE, join(dir, "bundles"))).path;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function task(electron: RegisteredElectron, args: unknown[]): Task {
    return {
      meta: { dispatchId: "dsp_remote0000" as DispatchId, nodeId: asNodeId(++nodeId), resultsDir: dir },
      electronId: electron.id,
      electronName: electron.name,
      fn: electron.fn,
      args,
      kwargs: {},
      bundlePath,
      signal: new AbortController().signal,
    };
  }

  test("runs the steps in Covalent's order and removes the task's files after", LIMIT, async () => {
    const executor = new SubprocessExecutor(join(dir, "work-order"));
    await import("node:fs/promises").then((fs) => fs.mkdir(executor.workdir));
    const outcome = await executor.execute(task(fx.add, [1, 2]));
    assert.ok(outcome.ok);
    assert.deepEqual(executor.calls, ["validateCredentials", "uploadTask", "submitTask", "queryResult", "cleanup"]);
    assert.deepEqual(await readdir(join(executor.workdir, "tasks", "dsp_remote0000")), []);
  });

  test("validates credentials once per executor, and uploads the bundle and runner once", LIMIT, async () => {
    const executor = new SubprocessExecutor(join(dir, "work-once"));
    await import("node:fs/promises").then((fs) => fs.mkdir(executor.workdir));
    await executor.execute(task(fx.add, [1, 2]));
    const files = await readdir(executor.workdir);
    const runner = files.find((f) => f.startsWith("valence-task-"));
    assert.ok(runner, `no runner among ${files.join(", ")}`);
    const bundleFile = join(executor.workdir, "bundles", (await readdir(join(executor.workdir, "bundles")))[0] as string);
    const before = [(await stat(join(executor.workdir, runner))).mtimeMs, (await stat(bundleFile)).mtimeMs];
    await new Promise((r) => setTimeout(r, 20));
    await executor.execute(task(fx.add, [3, 4]));
    const later = [(await stat(join(executor.workdir, runner))).mtimeMs, (await stat(bundleFile)).mtimeMs];
    assert.deepEqual(later, before);
    assert.equal(executor.calls.filter((c) => c === "validateCredentials").length, 1);
  });

  test("a task whose process exits without a result fails with RemoteTaskError and the exit code", LIMIT, async () => {
    const executor = new SubprocessExecutor(dir);
    const outcome = await executor.execute(task(fx.exitProcess, [3]));
    assert.ok(!outcome.ok);
    assert.ok(outcome.error instanceof RemoteTaskError, String(outcome.error.stack));
    assert.match(outcome.error.message, /contract\.exit|exit/);
    assert.match(outcome.error.message, /exit code 3/);
  });

  test("a failed step fails the node with RemoteExecutorError naming the step, and a later task checks again", LIMIT, async () => {
    const executor = new SubprocessExecutor(join(dir, "does-not-exist"));
    const outcome = await executor.execute(task(fx.add, [1, 2]));
    assert.ok(!outcome.ok);
    assert.ok(outcome.error instanceof RemoteExecutorError, String(outcome.error.stack));
    assert.equal(outcome.error.stage, "validateCredentials");
    assert.match(outcome.error.message, /subprocess-test executor, validateCredentials: .*does-not-exist/);
    await executor.execute(task(fx.add, [1, 2]));
    assert.equal(executor.calls.filter((c) => c === "validateCredentials").length, 2);
  });

  test("a task's error comes back with its remote stack naming the user's file", LIMIT, async () => {
    const outcome = await new SubprocessExecutor(dir).execute(task(fx.fail, ["remote boom"]));
    assert.ok(!outcome.ok);
    assert.equal(outcome.error.message, "remote boom");
    assert.match(String(outcome.error.stack), /contract-electrons\.ts:\d+/);
  });

  test("pollFreq must be positive", () => {
    const executor = new SubprocessExecutor(dir, { pollFreq: 0 });
    assert.throws(() => executor.validate(), /pollFreq must be a number of seconds above 0, got 0/);
  });

  test("the executor travels through its spec without its runtime state", async () => {
    const executor = new SubprocessExecutor(dir);
    const spec = executor.toSpec();
    assert.deepEqual(Object.keys(spec.state).sort(), ["calls", "options", "workdir"]);
  });
});
