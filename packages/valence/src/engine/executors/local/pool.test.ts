import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { decode, encode } from "../../../codec/index.js";
import { TaskCancelledError, WorkerCrashedError } from "../../../errors.js";
import { bundleEntry } from "../../bundle/bundler.js";
import { ALLOWED_WORKER_LOSSES, WorkerPool, type PoolOutcome } from "./pool.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, "../../../../../..");

let dir: string;
const bundles = { electrons: "", throwing: "", blocked: "", variantA: "", variantB: "" };
const pools: WorkerPool[] = [];
/** A test that waits on workers fails after this instead of hanging the run. */
const LIMIT = { timeout: 30_000 };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "valence-pool-"));
  const out = join(dir, "bundles");
  bundles.electrons = (await bundleEntry(join(HERE, "test-support/pool-electrons.ts"), out)).path;
  bundles.throwing = (await bundleEntry(join(HERE, "test-support/throwing-module.ts"), out)).path;
  bundles.blocked = (await bundleEntry(join(HERE, "test-support/blocked-module.ts"), out)).path;
  // Two versions of one module: same electron id, different code, as after a user edits their script.
  const registry = join(HERE, "../../../sdk/global-registry.ts");
  for (const which of ["A", "B"] as const) {
    const file = join(dir, `variant-${which}.ts`);
    await writeFile(file, `import { registerElectron } from ${JSON.stringify(registry)};\nregisterElectron("variant.which", () => "${which}");\n`);
    bundles[`variant${which}`] = (await bundleEntry(file, out)).path;
  }
});

after(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await rm(dir, { recursive: true, force: true });
});

function pool(size: number): WorkerPool {
  const p = new WorkerPool({ size });
  pools.push(p);
  return p;
}

function start(p: WorkerPool, bundlePath: string, electronId: string, args: unknown[] = []) {
  let id = 0;
  const outcome = new Promise<PoolOutcome>((resolve) => {
    id = p.run({ bundlePath, electronId, electronName: electronId, args: encode(args, "args") }, resolve);
  });
  return { id, outcome };
}

async function value(p: WorkerPool, bundlePath: string, electronId: string, args: unknown[] = []): Promise<unknown> {
  const outcome = await start(p, bundlePath, electronId, args).outcome;
  assert.ok(outcome.ok, outcome.ok ? "" : outcome.error.stack);
  return outcome.encoded === undefined ? undefined : decode(outcome.encoded);
}

async function failure(p: WorkerPool, bundlePath: string, electronId: string, args: unknown[] = []): Promise<Error> {
  const outcome = await start(p, bundlePath, electronId, args).outcome;
  assert.ok(!outcome.ok, "expected the task to fail");
  return outcome.error;
}

describe("WorkerPool", () => {
  test("process.exit in a task fails only that task; the next task runs on a new worker", LIMIT, async () => {
    const p = pool(1);
    const firstPid = await value(p, bundles.electrons, "pool.pid");
    const error = await failure(p, bundles.electrons, "pool.exit", [3]);
    assert.ok(error instanceof WorkerCrashedError);
    assert.match(error.message, /running electron "pool\.exit" exited with code 3/);
    const nextPid = await value(p, bundles.electrons, "pool.pid");
    assert.equal(typeof nextPid, "number");
    assert.notEqual(nextPid, firstPid);
    assert.equal(await value(p, bundles.electrons, "pool.add", [2, 2]), 4);
  });

  test("a crash fails every task its worker was running, and says so", LIMIT, async () => {
    const p = pool(1);
    const sleeping = start(p, bundles.electrons, "pool.sleep", [10_000]);
    const exiting = start(p, bundles.electrons, "pool.exit", [1]);
    const [a, b] = await Promise.all([sleeping.outcome, exiting.outcome]);
    assert.ok(!a.ok && a.error instanceof WorkerCrashedError);
    assert.match(a.error.message, /"pool\.sleep" exited with code 1; it was also running 1 other task/);
    assert.ok(!b.ok && b.error instanceof WorkerCrashedError);
  });

  test("a worker killed from outside (SIGKILL) runs its task again on a new worker, up to ALLOWED_WORKER_LOSSES times", LIMIT, async () => {
    const p = pool(1);
    const workerPid = () => p.snapshot()[0]?.pid;
    const killWhenBusy = async () => {
      // The task is sent once the worker exists and holds it.
      for (let i = 0; i < 500 && !(p.snapshot()[0]?.load ?? 0); i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 200));
      const pid = workerPid() as number;
      process.kill(pid, "SIGKILL");
      return pid;
    };
    const task = start(p, bundles.electrons, "pool.pidThenSleep", [400]);
    const killed = await killWhenBusy();
    const outcome = await task.outcome;
    assert.ok(outcome.ok, outcome.ok ? "" : outcome.error.message);
    const ranOn = decode(outcome.encoded as string);
    assert.notEqual(ranOn, killed, "it ran again on another worker");

    const doomed = start(p, bundles.electrons, "pool.pidThenSleep", [5_000]);
    let settled = false;
    void doomed.outcome.then(() => (settled = true));
    for (let k = 0; k < ALLOWED_WORKER_LOSSES && !settled; k++) {
      const before = workerPid();
      await killWhenBusy();
      // Wait for the replacement worker (or the failure) before the next kill.
      for (let i = 0; i < 500 && !settled && workerPid() === before; i++) await new Promise((r) => setTimeout(r, 10));
    }
    const end = await doomed.outcome;
    assert.ok(!end.ok && end.error instanceof WorkerCrashedError);
    assert.match(end.error.message, new RegExp(`was killed by SIGKILL; it was running on each of the ${ALLOWED_WORKER_LOSSES} workers that were killed while it ran`));
  });

  test("the tasks of a worker killed from outside run once more each, not twice", LIMIT, async () => {
    const p = pool(2);
    const file = join(dir, "killed-batch.log");
    // Long enough that the first tasks still run when the last has logged, on a loaded machine too
    // (with 400 ms, one CI run killed the worker after its tasks had ended, and nothing ran again).
    const tasks = ["a", "b", "c", "d", "e", "f"].map((tag) => start(p, bundles.electrons, "pool.logThenSleep", [file, tag, 2000]));
    const { readFileSync } = await import("node:fs");
    const lines = () => readFileSync(file, "utf8").trim().split("\n");
    for (let i = 0; i < 500; i++) {
      try {
        if (lines().length === 6) break;
      } catch {
        /* not written yet */
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    process.kill(p.snapshot()[0]?.pid as number, "SIGKILL");
    const outcomes = await Promise.all(tasks.map((t) => t.outcome));
    assert.ok(outcomes.every((o) => o.ok));
    const counts = new Map<string, number>();
    for (const l of lines()) counts.set(l, (counts.get(l) ?? 0) + 1);
    assert.equal(lines().length, 6 + [...counts.values()].filter((n) => n === 2).length);
    assert.ok([...counts.values()].every((n) => n === 1 || n === 2), `a task ran more than twice: ${JSON.stringify([...counts])}`);
    assert.ok([...counts.values()].some((n) => n === 2), "the killed worker's tasks ran again");
  });

  test("the crash message quotes what the dying worker wrote to stderr", LIMIT, async () => {
    const error = await failure(pool(1), bundles.electrons, "pool.uncaught", ["late boom from a timer"]);
    assert.ok(error instanceof WorkerCrashedError);
    assert.match(error.message, /exited with code 1/);
    assert.match(error.message, /late boom from a timer/);
  });

  test("a module that throws while loading fails its tasks with the module's error", LIMIT, async () => {
    const error = await failure(pool(1), bundles.throwing, "throwing.never");
    assert.match(error.message, /module exploded while loading/);
  });

  test("an electron the bundle does not define fails with ElectronNotFoundError", LIMIT, async () => {
    const error = await failure(pool(1), bundles.electrons, "pool.nope");
    assert.equal(error.name, "ElectronNotFoundError");
    assert.equal(error.message.split(":")[0], `electron pool.nope not found in bundle ${bundles.electrons}`);
  });

  test("a module stuck on a top-level await serves the electrons defined before it; a later one fails promptly", LIMIT, async () => {
    const p = pool(1);
    assert.equal(await value(p, bundles.blocked, "blocked.before", [4]), 40);
    const started = Date.now();
    const error = await failure(p, bundles.blocked, "blocked.after");
    assert.equal(error.name, "ElectronNotFoundError");
    assert.match(error.message, /top-level `await dispatch\(\.\.\.\)`/);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.equal(await value(p, bundles.blocked, "blocked.before", [5]), 50);
  });

  test("an unsendable return value fails the task with the codec's error", LIMIT, async () => {
    const error = await failure(pool(1), bundles.electrons, "pool.returnsFunction");
    assert.match(error.message, /^return value: functions cannot be sent/);
  });

  test("cancel kills the worker of a running task; tasks that shared it start again elsewhere", LIMIT, async () => {
    const p = pool(1);
    const pid = await value(p, bundles.electrons, "pool.pid");
    const spinning = start(p, bundles.electrons, "pool.spin");
    const bystander = start(p, bundles.electrons, "pool.sleep", [200]);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(p.cancel(spinning.id, new TaskCancelledError("stop spinning")), true);
    const outcome = await spinning.outcome;
    assert.ok(!outcome.ok && outcome.error instanceof TaskCancelledError);
    assert.equal(outcome.error.message, "stop spinning");
    const other = await bystander.outcome;
    assert.ok(other.ok, other.ok ? "" : other.error.stack);
    assert.notEqual(await value(p, bundles.electrons, "pool.pid"), pid);
  });

  test("cancelling a task before it was sent leaves its worker alone", LIMIT, async () => {
    const p = pool(1);
    const pid = await value(p, bundles.electrons, "pool.pid");
    const task = start(p, bundles.electrons, "pool.add", [1, 1]);
    assert.equal(p.cancel(task.id), true);
    const outcome = await task.outcome;
    assert.ok(!outcome.ok && outcome.error instanceof TaskCancelledError);
    assert.equal(await value(p, bundles.electrons, "pool.pid"), pid);
    assert.equal(p.cancel(task.id), false);
  });

  test("a worker serves one bundle: another bundle's task recycles an idle worker", LIMIT, async () => {
    const p = pool(1);
    assert.equal(await value(p, bundles.variantA, "variant.which"), "A");
    assert.equal(await value(p, bundles.variantB, "variant.which"), "B");
    assert.equal(await value(p, bundles.variantA, "variant.which"), "A");
  });

  test("tasks of another bundle wait while every worker is busy, then run", LIMIT, async () => {
    const p = pool(1);
    const busy = start(p, bundles.electrons, "pool.sleep", [200]);
    const [a, b] = await Promise.all([value(p, bundles.variantB, "variant.which"), busy.outcome]);
    assert.equal(a, "B");
    assert.ok(b.ok);
  });

  test("close() ends unfinished tasks with TaskCancelledError and refuses new ones", LIMIT, async () => {
    const p = pool(1);
    const sleeping = start(p, bundles.electrons, "pool.sleep", [10_000]);
    await new Promise((r) => setTimeout(r, 50));
    await p.close();
    const outcome = await sleeping.outcome;
    assert.ok(!outcome.ok && outcome.error instanceof TaskCancelledError);
    const late = await start(p, bundles.electrons, "pool.add", [1, 2]).outcome;
    assert.ok(!late.ok && late.error instanceof TaskCancelledError);
  });

  test("a script that used the pool exits promptly once its tasks are done", LIMIT, async () => {
    const script = join(dir, "user-script.mts");
    const executor = pathToFileURL(join(HERE, "local-executor.ts")).href;
    await writeFile(
      script,
      `import { LocalExecutor } from ${JSON.stringify(executor)};\n` +
        `const executor = new LocalExecutor({ workers: 2 });\n` +
        `await executor.setup();\n` +
        `const outcome = await executor.execute({ meta: { dispatchId: "dsp_exit00000", nodeId: 1, resultsDir: "." },\n` +
        `  electronId: "pool.add", electronName: "add", fn: () => 0, args: [20, 22], kwargs: {},\n` +
        `  bundlePath: ${JSON.stringify(bundles.electrons)}, signal: new AbortController().signal });\n` +
        `console.log("value", outcome.ok ? outcome.value : outcome.error.message);\n` +
        `console.log("done", Date.now());\n`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    const exitedAt = Date.now();
    clearTimeout(killer);
    assert.equal(code, 0, `exit ${code}; stdout: ${stdout}; stderr: ${stderr}`);
    assert.match(stdout, /^value 42$/m);
    const doneAt = Number(/^done (\d+)$/m.exec(stdout)?.[1]);
    assert.ok(exitedAt - doneAt < 2000, `exited ${exitedAt - doneAt} ms after its last task`);
  });
});
