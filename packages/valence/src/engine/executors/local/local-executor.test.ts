import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ExecutorDefinitionError, UnsendableValueError } from "../../../errors.js";
import { executorFromSpec } from "../../../executor/executor.js";
import type { Task } from "../../../executor/task.js";
import { asElectronId, asNodeId, type DispatchId } from "../../../ids.js";
import { bundleEntry } from "../../bundle/bundler.js";
import { LocalExecutor, closeLocalPools } from "./local-executor.js";
import { NoBundleError } from "../../../executor/no-bundle-error.js";

const HERE = dirname(fileURLToPath(import.meta.url));
let dir: string;
let bundlePath: string;
/** A test that waits on workers fails after this instead of hanging the run. */
const LIMIT = { timeout: 30_000 };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "valence-local-"));
  bundlePath = (await bundleEntry(join(HERE, "test-support/pool-electrons.ts"), join(dir, "bundles"))).path;
});

after(async () => {
  await closeLocalPools();
  await rm(dir, { recursive: true, force: true });
});

function addTask(args: unknown[], overrides: Partial<Task> = {}): Task {
  return {
    meta: { dispatchId: "dsp_localexec0" as DispatchId, nodeId: asNodeId(1), resultsDir: dir },
    electronId: asElectronId("pool.add"),
    electronName: "add",
    fn: () => undefined,
    args,
    kwargs: {},
    bundlePath,
    signal: new AbortController().signal,
    ...overrides,
  };
}

describe("LocalExecutor", () => {
  test("is the registry's `local` executor", LIMIT, () => {
    assert.equal(new LocalExecutor().pluginName, "local");
  });

  test("hands back the encoded result for the store, and the value on demand", LIMIT, async () => {
    const before = Date.now();
    const outcome = await new LocalExecutor({ workers: 1 }).execute(addTask([40, 2]));
    assert.ok(outcome.ok);
    // When the worker began the body: after the handoff, by the worker's clock (this machine's).
    const began = outcome.startedAt as number;
    assert.ok(began >= before && began <= Date.now(), `startedAt ${began} outside [${before}, now]`);
    assert.equal(outcome.encoded, "42");
    assert.equal(outcome.value, 42);
    // Spreading (as the dispatcher does) keeps the encoded form without decoding.
    assert.deepEqual({ ...outcome }, { ok: true, encoded: "42", stdout: "", stderr: "", lane: "local worker 0", startedAt: began });
  });

  test("says when each task's body began: tasks queued behind a busy worker start when it takes them, not when handed over", LIMIT, async () => {
    const executor = new LocalExecutor({ workers: 1 });
    const handedOver = Date.now();
    // Three 300 ms tasks at once on one worker process: it runs one after the other.
    const outcomes = await Promise.all([1, 2, 3].map(() => executor.execute(addTask([300], { electronId: asElectronId("pool.busy"), electronName: "busy" }))));
    const starts = outcomes.map((o) => (o.ok ? (o.startedAt as number) : NaN)).sort((a, b) => a - b);
    assert.ok(starts[0]! >= handedOver, `first start ${starts[0]} before the handoff ${handedOver}`);
    // Each began after the one before had slept its 300 ms (the timeline draws them one after the other).
    assert.ok(starts[1]! - starts[0]! >= 290 && starts[2]! - starts[1]! >= 290, `starts ${starts.map((s) => s - handedOver).join(", ")} ms after the handoff`);
  });

  test("a task without a bundle fails with NoBundleError", LIMIT, async () => {
    const outcome = await new LocalExecutor({ workers: 1 }).execute(addTask([1, 2], { bundlePath: undefined }));
    assert.ok(!outcome.ok && outcome.error instanceof NoBundleError);
    assert.match(outcome.error.message, /electron "add".*bundleEntry/);
  });

  test("arguments the codec refuses fail the task with the path of the bad value", LIMIT, async () => {
    const outcome = await new LocalExecutor({ workers: 1 }).execute(addTask([1, { f: () => 2 }]));
    assert.ok(!outcome.ok && outcome.error instanceof UnsendableValueError);
    assert.equal(outcome.error.path, "args[1].f");
  });

  test("a worker count that is not a whole number of at least 1 is refused", LIMIT, async () => {
    assert.throws(() => new LocalExecutor({ workers: 0 }).validate(), ExecutorDefinitionError);
    assert.throws(() => new LocalExecutor({ workers: 1.5 }).validate(), ExecutorDefinitionError);
    const outcome = await new LocalExecutor({ workers: Number.NaN }).execute(addTask([1, 2]));
    assert.ok(!outcome.ok && outcome.error instanceof ExecutorDefinitionError);
  });

  test("survives a trip through its spec and still runs tasks", LIMIT, async () => {
    const spec = new LocalExecutor({ workers: 1, maxConcurrency: 8 }).toSpec();
    assert.deepEqual(spec, { plugin: "local", state: { options: { workers: 1, maxConcurrency: 8 } } });
    const rebuilt = executorFromSpec(LocalExecutor, structuredClone(spec));
    assert.ok(rebuilt instanceof LocalExecutor);
    assert.equal(rebuilt.maxConcurrency, 8);
    const outcome = await rebuilt.execute(addTask([2, 3]));
    assert.ok(outcome.ok);
    assert.equal(outcome.value, 5);
  });
});
