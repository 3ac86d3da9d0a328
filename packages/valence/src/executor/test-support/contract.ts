/**
 * The contract every executor passes: `inline`, `local`, the remote ones and
 * the scaffolded template each run this same suite (STYLE.md: one interface,
 * many implementations, one contract suite).
 *
 * Tasks come from a fixture module: imported here, so `task.fn` is set for
 * executors that run in this process, and bundled into a temp dir, so
 * `task.bundlePath` is set for executors that load code elsewhere. Both
 * register the same electron ids.
 *
 * Test support reaches into the engine for the bundler; the SDK proper never does.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { decode } from "../../codec/index.js";
import { bundleEntry } from "../../engine/bundle/bundler.js";
import { TaskCancelledError, TaskTimeoutError } from "../../errors.js";
import { asNodeId, type DispatchId } from "../../ids.js";
import type { RegisteredElectron } from "../../sdk/global-registry.js";
import type { Executor } from "../executor.js";
import type { Task, TaskOutcome } from "../task.js";
import * as fx from "./fixtures/contract-electrons.js";

// From source the fixture is `.ts`; from the built package (plugins import `valence/executor/testing`) it is `.js`.
const FIXTURE = [".ts", ".js"]
  .map((ext) => fileURLToPath(new URL(`./fixtures/contract-electrons${ext}`, import.meta.url)))
  .find((file) => existsSync(file)) as string;
/** Cancel and timeout must end a task this fast, machine load included; the task itself would run a minute. */
const PROMPT_MS = 5000;
/** A test that waits on workers fails after this instead of hanging the run. */
const LIMIT = { timeout: 30_000 };

/** The value of a successful outcome, whether the executor returned it as is or still encoded. */
export function outcomeValue(outcome: TaskOutcome): unknown {
  assert.ok(outcome.ok, `expected success, got ${outcome.ok ? "" : outcome.error.stack}`);
  if (outcome.value !== undefined || outcome.encoded === undefined) return outcome.value;
  return decode(outcome.encoded);
}

/**
 * Defines the contract tests for one executor. `make` is called once, before
 * the first test; the executor's `setup` and `teardown` bracket the suite.
 *
 * @example
 * executorContract("local", () => new LocalExecutor({ workers: 2 }));
 */
export interface ContractOptions {
  /** Tasks run at once by the "many concurrent tasks" test; default 3000. Executors with a cost per task (a Slurm job) pass fewer. */
  readonly concurrentTasks?: number;
  /**
   * The executor hands a running task's output to `task.live` before the task ends (in-process
   * capture, local workers, persistent runners): the suite then checks it. Off by default, for
   * executors that only learn a task's output from its result.
   */
  readonly liveOutput?: boolean;
}

export function executorContract(name: string, make: () => Executor | Promise<Executor>, options: ContractOptions = {}): void {
  describe(`executor contract: ${name}`, () => {
    let executor: Executor;
    let dir: string;
    let bundlePath: string;
    let nodeId = 0;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "valence-contract-"));
      bundlePath = (await bundleEntry(FIXTURE, join(dir, "bundles"))).path;
      executor = await make();
      executor.validate();
      await executor.setup();
    });

    after(async () => {
      await executor?.teardown();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    function task(electron: RegisteredElectron, args: unknown[], signal = new AbortController().signal, live?: Task["live"]): Task {
      return {
        live,
        meta: { dispatchId: "dsp_contract0000" as DispatchId, nodeId: asNodeId(++nodeId), resultsDir: dir },
        electronId: electron.id,
        electronName: electron.name,
        fn: electron.fn,
        args,
        kwargs: {},
        bundlePath,
        signal,
      };
    }

    /** Runs a minute-long task, aborts it after 100 ms with `reason`, and checks it ended promptly. */
    async function abortMidTask(reason?: Error): Promise<TaskOutcome> {
      const controller = new AbortController();
      const started = Date.now();
      const running = executor.execute(task(fx.sleep, [60_000, true], controller.signal));
      setTimeout(() => controller.abort(reason), 100);
      const outcome = await running;
      assert.ok(Date.now() - started < PROMPT_MS, `took ${Date.now() - started} ms to stop`);
      return outcome;
    }

    test("returns the task's value", LIMIT, async () => {
      assert.equal(outcomeValue(await executor.execute(task(fx.add, [2, 3]))), 5);
    });

    test("passes structured arguments and returns structured values", LIMIT, async () => {
      const value = { list: [1, "two", null], nested: { when: new Date(0), tags: new Set(["a"]) }, map: new Map([[1, 2]]) };
      assert.deepEqual(outcomeValue(await executor.execute(task(fx.echo, [value]))), value);
    });

    test("a task that throws fails with the user's message, and only that task fails", LIMIT, async () => {
      const [bad, good] = await Promise.all([
        executor.execute(task(fx.fail, ["the user's own words"])),
        executor.execute(task(fx.add, [1, 1])),
      ]);
      assert.equal(bad.ok, false);
      assert.ok(!bad.ok && bad.error instanceof Error);
      assert.match(bad.error.message, /the user's own words/);
      assert.equal(outcomeValue(good), 2);
    });

    test("an async task that rejects fails with its error's name and message", LIMIT, async () => {
      const outcome = await executor.execute(task(fx.failAsync, ["out of range"]));
      assert.ok(!outcome.ok);
      assert.equal(outcome.error.name, "RangeError");
      assert.equal(outcome.error.message, "out of range");
    });

    test("stdout and stderr are captured per task, concurrent tasks kept apart", LIMIT, async () => {
      const tags = ["A", "B", "C", "D"];
      const outcomes = await Promise.all(tags.map((tag) => executor.execute(task(fx.chatter, [tag, 5]))));
      outcomes.forEach((outcome, i) => {
        const tag = tags[i] as string;
        assert.equal(outcomeValue(outcome), tag);
        const lines = (kind: string) => [0, 1, 2, 3, 4].map((n) => `${tag} ${kind} ${n}\n`).join("");
        assert.equal(outcome.stdout, lines("out"));
        assert.equal(outcome.stderr, lines("err"));
      });
    });

    if (options.liveOutput) {
      test("a running task's output reaches task.live before the task ends; the outcome still has all of it", LIMIT, async () => {
        const gate = join(dir, `gate-${nodeId}`);
        const seen = { stdout: "", stderr: "" };
        let ended = false;
        const running = executor.execute(task(fx.printThenWait, [gate], undefined, (stream, text) => (seen[stream] += text)));
        void running.then(() => (ended = true));
        for (let i = 0; !(seen.stdout.includes("early out") && seen.stderr.includes("early err")); i++) {
          assert.ok(i < 1000 && !ended, `task.live got ${JSON.stringify(seen)} before the task ${ended ? "ended" : "was given up on"}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.deepEqual(seen, { stdout: "early out\n", stderr: "early err\n" });
        await writeFile(gate, "");
        const outcome = await running;
        assert.equal(outcomeValue(outcome), "done");
        assert.equal(outcome.stdout, "early out\nlate out\n");
        assert.equal(outcome.stderr, "early err\n");
      });
    }

    test("cancel: aborting the signal mid-task ends it promptly with TaskCancelledError", LIMIT, async () => {
      const outcome = await abortMidTask(new TaskCancelledError("cancelled by the contract test"));
      assert.ok(!outcome.ok);
      assert.ok(outcome.error instanceof TaskCancelledError, `got ${outcome.error.stack}`);
    });

    test("cancel: a bare abort() also reads as TaskCancelledError", LIMIT, async () => {
      const outcome = await abortMidTask();
      assert.ok(!outcome.ok);
      assert.ok(outcome.error instanceof TaskCancelledError, `got ${outcome.error.stack}`);
    });

    test("timeout: aborting with a TaskTimeoutError ends the task with that error", LIMIT, async () => {
      const outcome = await abortMidTask(new TaskTimeoutError(100));
      assert.ok(!outcome.ok);
      assert.ok(outcome.error instanceof TaskTimeoutError, `got ${outcome.error.stack}`);
      assert.equal(outcome.error.timeoutMs, 100);
    });

    test("a task whose signal is already aborted does not run", LIMIT, async () => {
      const controller = new AbortController();
      controller.abort(new TaskCancelledError("too late"));
      const outcome = await executor.execute(task(fx.add, [1, 2], controller.signal));
      assert.ok(!outcome.ok);
      assert.ok(outcome.error instanceof TaskCancelledError);
    });

    test("still runs tasks after a cancel", LIMIT, async () => {
      assert.equal(outcomeValue(await executor.execute(task(fx.add, [20, 22]))), 42);
    });

    test("a 5 MB string round-trips as argument and result", LIMIT, async () => {
      const big = "0123456789\"\\\n".repeat(400_000);
      assert.equal(outcomeValue(await executor.execute(task(fx.echo, [big]))), big);
    });

    test("a million-element array comes back whole", LIMIT, async () => {
      const value = outcomeValue(await executor.execute(task(fx.range, [1_000_000]))) as number[];
      assert.equal(value.length, 1_000_000);
      assert.equal(value[999_999], 999_999);
    });

    test("many concurrent tasks all complete with their own results", LIMIT, async () => {
      const n = options.concurrentTasks ?? 3000;
      const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => executor.execute(task(fx.add, [i, 1]))));
      outcomes.forEach((outcome, i) => assert.equal(outcomeValue(outcome), i + 1));
    });
  });
}
