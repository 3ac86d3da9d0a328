// Persistent runners (`valence-task --serve` fed by a RunnerPool), on this machine: the
// executor contract, then what a pool must do that a process per task did for free.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { bundleEntry } from "../../engine/bundle/bundler.js";
import { RemoteTaskError, TaskCancelledError } from "../../errors.js";
import { asNodeId, type DispatchId } from "../../ids.js";
import type { RegisteredElectron } from "../../sdk/global-registry.js";
import { resultLine, runLine } from "../wire/serve-protocol.js";
import { executorContract, outcomeValue } from "../test-support/contract.js";
import * as fx from "../test-support/fixtures/contract-electrons.js";
import { ServedExecutor } from "../test-support/served-executor.js";
import type { Task, TaskOutcome } from "../task.js";
import { makeTaskPackage, runnerFile, writeTaskPackage } from "./task-package.js";

const FIXTURE = fileURLToPath(new URL("../test-support/fixtures/contract-electrons.ts", import.meta.url));
const LIMIT = { timeout: 30_000 };

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "valence-served-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

executorContract("remote (persistent runners)", () => new ServedExecutor(root, { maxRunners: 3, tasksPerRunner: 4 }), { concurrentTasks: 200, liveOutput: true });

describe("RunnerPool", () => {
  let dir: string;
  let bundlePath: string;
  let nodeId = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "valence-pool-"));
    bundlePath = (await bundleEntry(FIXTURE, join(dir, "bundles"))).path;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function task(electron: RegisteredElectron, args: unknown[], signal = new AbortController().signal): Task {
    return {
      meta: { dispatchId: "dsp_pool00000000" as DispatchId, nodeId: asNodeId(++nodeId), resultsDir: dir },
      electronId: electron.id,
      electronName: electron.name,
      fn: electron.fn,
      args,
      kwargs: {},
      bundlePath,
      signal,
    };
  }

  async function executor(name: string, options: ConstructorParameters<typeof ServedExecutor>[1] = {}): Promise<ServedExecutor> {
    const workdir = join(dir, name);
    await mkdir(workdir, { recursive: true });
    return new ServedExecutor(workdir, options);
  }

  test("one runner runs many tasks, one after another", LIMIT, async () => {
    const ex = await executor("reuse");
    for (let i = 0; i < 20; i++) assert.equal(outcomeValue(await ex.execute(task(fx.add, [i, 1]))), i + 1);
    assert.equal(ex.pool.launches, 1);
    await ex.teardown();
  });

  test("at most maxRunners runners, each with at most tasksPerRunner tasks", LIMIT, async () => {
    const ex = await executor("bounded", { maxRunners: 2, tasksPerRunner: 3 });
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => ex.execute(task(fx.sleep, [20 + (i % 3)]))));
    assert.deepEqual(outcomes.map(outcomeValue), Array.from({ length: 30 }, (_, i) => 20 + (i % 3)));
    assert.equal(ex.pool.launches, 2);
    await ex.teardown();
  });

  test("a task that ends its runner fails alone with the exit code; the next task gets a new runner", LIMIT, async () => {
    const ex = await executor("crash", { maxRunners: 1, tasksPerRunner: 1 });
    const outcome = await ex.execute(task(fx.exitProcess, [7]));
    assert.ok(!outcome.ok);
    assert.ok(outcome.error instanceof RemoteTaskError, String(outcome.error.stack));
    assert.match(outcome.error.message, /task "contract\.exit" \(node \d+\) ended without a result \(the task runner ended \(exit code 7\) on this machine\)/);
    assert.equal(outcomeValue(await ex.execute(task(fx.add, [2, 2]))), 4);
    assert.equal(ex.pool.launches, 2);
    await ex.teardown();
  });

  test("cancel kills only the cancelled task: the others in its runner run again and finish", LIMIT, async () => {
    const ex = await executor("cancel", { maxRunners: 1, tasksPerRunner: 3 });
    const controller = new AbortController();
    const doomed = ex.execute(task(fx.sleep, [60_000], controller.signal));
    const others = [ex.execute(task(fx.sleep, [400])), ex.execute(task(fx.echo, ["kept"]))];
    await new Promise((r) => setTimeout(r, 150));
    controller.abort();
    const cancelled = await doomed;
    assert.ok(!cancelled.ok && cancelled.error instanceof TaskCancelledError, String(!cancelled.ok && cancelled.error));
    const [slow, echo] = (await Promise.all(others)) as [TaskOutcome, TaskOutcome];
    assert.equal(outcomeValue(slow), 400);
    assert.equal(outcomeValue(echo), "kept");
    assert.equal(ex.pool.launches, 2);
    await ex.teardown();
  });

  test("a task waiting for a runner is cancelled without starting one", LIMIT, async () => {
    const ex = await executor("queue", { maxRunners: 1, tasksPerRunner: 1 });
    const busy = ex.execute(task(fx.sleep, [300]));
    // The busy task holds the only runner before the other asks for one.
    while (ex.pool.launches === 0) await new Promise((r) => setTimeout(r, 5));
    const controller = new AbortController();
    const waiting = ex.execute(task(fx.add, [1, 1], controller.signal));
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    const outcome = await waiting;
    assert.ok(!outcome.ok && outcome.error instanceof TaskCancelledError);
    assert.equal(outcomeValue(await busy), 300);
    assert.equal(ex.pool.launches, 1);
    await ex.teardown();
  });

  test("an idle runner exits after idleMs, and the next task starts another", LIMIT, async () => {
    const ex = await executor("idle", { idleMs: 50 });
    assert.equal(outcomeValue(await ex.execute(task(fx.add, [1, 2]))), 3);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ex.pool.size, 0);
    assert.equal(outcomeValue(await ex.execute(task(fx.add, [2, 2]))), 4);
    assert.equal(ex.pool.launches, 2);
    await ex.teardown();
  });
});

describe("valence-task --serve", () => {
  test("answers run lines, ignores bad ones, keeps other output off stdout, and exits on EOF", LIMIT, async () => {
    const dir = await mkdtemp(join(tmpdir(), "valence-serve-"));
    try {
      const bundlePath = (await bundleEntry(FIXTURE, join(dir, "b"))).path;
      const t: Task & { bundlePath: string } = {
        meta: { dispatchId: "dsp_serve0000000" as DispatchId, nodeId: asNodeId(1), resultsDir: dir },
        electronId: fx.chatter.id,
        electronName: fx.chatter.name,
        fn: fx.chatter.fn,
        args: ["T", 2],
        kwargs: {},
        bundlePath,
        signal: new AbortController().signal,
      };
      const pkg = makeTaskPackage(t);
      await writeTaskPackage(pkg, dir);
      const child = spawn(process.execPath, [runnerFile().relPath, "--serve"], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (b: Buffer) => (out += b.toString()));
      child.stderr.on("data", (b: Buffer) => (err += b.toString()));
      const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
      child.stdin.write("not json\n");
      child.stdin.write('{"t":"stop"}\n');
      child.stdin.write(runLine("x1", pkg.bundle.relPath, pkg.taskJson));
      while (!out.includes('"t":"result"')) await new Promise((r) => setTimeout(r, 10));
      child.stdin.end();
      assert.equal(await exited, 0);
      const lines = out.trim().split("\n");
      assert.equal(lines.length, 2, out);
      assert.match(lines[0] as string, /^\{"t":"ready","format":1,"pid":\d+\}$/);
      const result = JSON.parse(lines[1] as string) as { t: string; id: string; result: { ok: boolean; value: string; stdout: string } };
      assert.equal(result.id, "x1");
      assert.equal(result.result.ok, true);
      assert.equal(result.result.stdout, "T out 0\nT out 1\n");
      assert.equal(`${lines[1]}\n`, resultLine("x1", JSON.stringify(result.result)));
      assert.match(err, /ignored a line: not JSON/);
      assert.match(err, /ignored a line: "t" must be "run", got "stop"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
