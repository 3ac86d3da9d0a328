// Scenario tests of the embedded engine: real SQLite store in a temp dir, inline executor.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cancel, dispatch, dispatchSync, getResult, lattice, electron } from "../src/index.js";
import { AsyncBaseExecutor, BaseExecutor, type TaskFunction, type TaskMetadata } from "../src/executor/index.js";
import * as wf from "./fixtures/workflows.js";
import { Engine } from "../src/engine/index.js";

const slowly = electron(async (x: number) => {
  await new Promise((r) => setTimeout(r, 2_000));
  return x;
}, { executor: "inline" });
const sleepTurns = () => new Promise((r) => setTimeout(r, 30));

describe("embedded dispatch", () => {
  it("runs a lattice and prints Covalent's Result text with Covalent's node numbering", async () => {
    const id = await dispatch(wf.arith)(3, 4);
    assert.match(id, /^dsp_/);
    const result = await getResult<number>(id, { wait: true });
    assert.equal(result.status, "COMPLETED");
    assert.equal(result.result, 28);
    const text = result.toString();
    assert.match(text, /^Lattice Result\n==============\nstatus: COMPLETED\nresult: 28\ninput args: \[3, 4\]\ninput kwargs: \{\}\nerror: None\n/);
    assert.ok(text.endsWith("Node Outputs\n------------\nadd(0): 7\n:parameter:3(1): 3\n:parameter:4(2): 4\nmultiply(3): 28\n:parameter:4(4): 4\n"), text);
    assert.ok(result.resultsDir.startsWith(dataDir));
  });

  it("makes edges from attributes, indexes, destructuring and handles inside arrays and objects", async () => {
    const r = await dispatchSync(wf.shapes)(2);
    assert.equal(r.status, "COMPLETED");
    assert.deepEqual(r.result, { total: 20 + 200 + 2 + 3, first: 20 });
    assert.deepEqual(r.nodes.map((n) => n.name), ["pair", ":parameter:2", "pair.b", "pair.b[0]", "pair.b[1]", "pair.a", "sum", ":collection:list"]);
  });

  it("fails the node and the dispatch with the user's message while the independent branch finishes", async () => {
    const r = await dispatchSync(wf.partial)(5);
    assert.equal(r.status, "FAILED");
    const failed = r.nodes.find((n) => n.name === "boom");
    assert.equal(failed?.status, "FAILED");
    assert.equal(failed?.error?.message, "boom: bad input");
    assert.match(failed?.error?.stack ?? "", /fixtures\/workflows\.ts/);
    assert.doesNotMatch(failed?.error?.stack ?? "", /node:internal|src\/engine/);
    assert.equal(r.nodes.find((n) => n.name === "add")?.status, "FAILED");
    assert.equal(r.nodes.find((n) => n.name === "slowOk")?.status, "COMPLETED");
    assert.match(r.error?.message ?? "", /node "boom\(\d+\)" failed: boom: bad input/);
    assert.match(r.toString(), /error: TaskFailedError: node "boom\(\d+\)" failed: boom: bad input/);
  });

  it("orders nodes with wait()", async () => {
    wf.log.length = 0;
    const r = await dispatchSync(wf.ordered)();
    assert.equal(r.result, "second");
    assert.deepEqual(wf.log, ["first", "second"]);
  });

  it("runs a sublattice whose electrons inherit its executor unless they name their own", async () => {
    const r = await dispatchSync(wf.outer)(4);
    assert.equal(r.status, "COMPLETED");
    const sub = r.nodes.find((n) => n.kind === "sublattice");
    assert.equal(sub?.name, ":sublattice:inner");
    assert.equal(sub?.status, "COMPLETED");
    // pidOf names no executor; inside `inner` (executor "inline") it ran in this process, not on the default pool.
    assert.equal(r.result, process.pid);
  });

  it("retries a failing task", async () => {
    wf.resetFlaky();
    const r = await dispatchSync(wf.flakyFlow)();
    assert.equal(r.status, "COMPLETED");
    assert.equal(r.result, 3);
    assert.equal(r.nodes[0]?.attempts, 3);
  });

  it("times a task out", async () => {
    const r = await dispatchSync(wf.timeoutFlow)();
    assert.equal(r.status, "FAILED");
    assert.equal(r.nodes[0]?.error?.name, "TaskTimeoutError");
    assert.match(r.nodes[0]?.error?.message ?? "", /timed out after 100 ms/);
  });

  it("captures each task's stdout and stderr", async () => {
    const r = await dispatchSync(wf.chattyFlow)(1);
    const chatty = r.nodes.filter((n) => n.name === "chatty");
    assert.deepEqual(chatty.map((n) => n.stdout), ["hello from 1\n", "hello from 2\n"]);
    assert.deepEqual(chatty.map((n) => n.stderr), ["warn 1\n", "warn 2\n"]);
  });

  it("cancels a running dispatch: the running task is stopped, pending ones never start, outputs so far are kept", async () => {
    const started: string[] = [];
    const quick = electron((x: number) => x + 1, { executor: "inline" });
    const slow = electron(async (x: number) => {
      started.push("slow");
      await new Promise((r) => setTimeout(r, 10_000));
      return x;
    }, { executor: "inline" });
    const after = electron((x: number) => {
      started.push("after");
      return x;
    }, { executor: "inline" });
    const id = await dispatch(lattice((x: number) => after(slow(quick(x)))))(1);
    for (let i = 0; (await getResult(id)).nodes.find((n) => n.name === "slow")?.status !== "RUNNING"; i++) {
      assert.ok(i < 1000, "slow never showed RUNNING");
      await new Promise((r) => setTimeout(r, 5));
    }
    const t0 = Date.now();
    await cancel(id);
    const r = await getResult(id, { wait: true });
    assert.ok(Date.now() - t0 < 5_000, "cancel did not wait for the slow task");
    assert.equal(r.status, "CANCELLED");
    assert.deepEqual(r.nodes.map((n) => `${n.name}:${n.status}`), ["quick:COMPLETED", ":parameter:1:COMPLETED", "slow:CANCELLED", "after:CANCELLED"]);
    assert.equal(r.nodes[0]?.output, 2);
    assert.deepEqual(started, ["slow"]);
    await assert.rejects(cancel(id), { name: "DispatchNotRunningError", message: /is CANCELLED and not running in this process/ });
  });

  for (const when of ["in the turn it starts", "one turn after it starts"]) {
    it(`cancel ${when} leaves no node RUNNING and runs nothing more`, async () => {
      const ran: string[] = [];
      const after = electron((x: number) => (ran.push("after"), x), { executor: "inline" });
      const id = await dispatch(lattice((x: number) => after(slowly(x))))(1);
      if (when.startsWith("one")) await new Promise((r) => setImmediate(r));
      await cancel(id);
      const r = await getResult(id, { wait: true });
      await sleepTurns();
      const again = await getResult(id);
      assert.equal(r.status, "CANCELLED");
      assert.deepEqual(again.nodes.map((n) => `${n.name}:${n.status}`), ["slowly:CANCELLED", ":parameter:1:COMPLETED", "after:CANCELLED"]);
      assert.equal(again.nodes[0]?.error?.name, "TaskCancelledError");
      assert.deepEqual(ran, []);
    });
  }

  it("cancelling a sublattice's parent cancels the child dispatch", async () => {
    const steps: number[] = [];
    const step = electron(async (i: number) => {
      await new Promise((r) => setTimeout(r, 40));
      steps.push(i);
      return i;
    }, { executor: "inline" });
    const innerChain = lattice((n: number) => step(step(step(n))));
    const id = await dispatch(lattice((n: number) => innerChain(n)))(1);
    await new Promise((r) => setTimeout(r, 60));
    await cancel(id);
    const r = await getResult(id, { wait: true });
    await new Promise((r2) => setTimeout(r2, 200));
    assert.equal(r.status, "CANCELLED");
    assert.ok(steps.length < 3, `child kept running: ${steps.join(",")}`);
  });

  it("rejects cancelling node ids the dispatch does not have", async () => {
    const id = await dispatch(lattice((x: number) => slowly(x)))(1);
    await assert.rejects(cancel(id, [99]), { name: "NodeNotFoundError", message: /has nodes 0 to 1; no such node: 99/ });
    await assert.rejects(cancel(id, ["x" as unknown as number]), { name: "NodeNotFoundError", message: /no such node: "x"/ });
    await cancel(id);
    assert.equal((await getResult(id, { wait: true })).status, "CANCELLED");
  });

  it("sets up an executor shared by a lattice and its sublattice once, and tears it down once after both", async () => {
    const log: string[] = [];
    class Logged extends BaseExecutor {
      override async setup() {
        log.push("setup");
      }
      override async teardown() {
        log.push("teardown");
      }
      run(fn: TaskFunction, args: unknown[]) {
        log.push("run");
        return (fn as (...a: unknown[]) => unknown)(...args);
      }
    }
    const ex = new Logged();
    const one = electron((x: number) => x + 1, { executor: ex });
    const sub = lattice((x: number) => one(x));
    const r = await dispatchSync(lattice((x: number) => one(sub(x)), { executor: ex }))(1);
    await sleepTurns();
    assert.equal(r.result, 3);
    assert.deepEqual(log, ["setup", "run", "run", "teardown"]);
  });

  it("creates one engine per data dir even when asked concurrently", async () => {
    const [a, b] = await Promise.all([Engine.current(), Engine.current()]);
    assert.equal(a, b);
  });

  it("reads a result again from the store", async () => {
    const id = await dispatch(wf.arith)(1, 2);
    await getResult(id, { wait: true });
    const again = await getResult<number>(id, { statusOnly: true });
    assert.equal(again.status, "COMPLETED");
    assert.equal(again.nodes.length, 0);
  });
});

describe("user-written executors", () => {
  class Recording extends AsyncBaseExecutor {
    readonly seen: string[] = [];
    async run(fn: TaskFunction, args: unknown[], _kwargs: Record<string, unknown>, meta: TaskMetadata) {
      await new Promise((r) => setTimeout(r, 1));
      this.seen.push(`${meta.dispatchId}:${meta.nodeId}`);
      return (fn as (...a: unknown[]) => unknown)(...args);
    }
  }

  it("runs tasks through an AsyncBaseExecutor's async run with the task metadata", async () => {
    const ex = new Recording();
    const twice = electron((x: number) => 2 * x, { executor: ex });
    const r = await dispatchSync(lattice((x: number) => twice(twice(x))))(5);
    assert.equal(r.result, 20);
    assert.deepEqual(ex.seen, [`${r.dispatchId}:0`, `${r.dispatchId}:2`]);
    assert.equal(r.nodes[0]?.executor, "Recording");
    // The instance's class is now known by name in this process, for the registry to rebuild it.
    const listed = (await (await Engine.current()).registry.list()).find((e) => e.name === "Recording");
    assert.equal(listed?.origin, "runtime");
  });

  it("rejects an executor class without run at dispatch", async () => {
    // @ts-expect-error: a class without run, as plain JavaScript could write it, is what the check catches.
    class NoRun extends BaseExecutor {}
    const e = electron((x: number) => x, { executor: new (NoRun as unknown as new () => BaseExecutor)() });
    await assert.rejects(dispatch(lattice((x: number) => e(x)))(1), {
      name: "ExecutorDefinitionError",
      message: /NoRun has no run\(fn, args, kwargs, taskMetadata\) method/,
    });
  });

  it("fails the node when an executor's run throws", async () => {
    class Broken extends BaseExecutor {
      run(): unknown {
        throw new Error("executor exploded");
      }
    }
    const e = electron((x: number) => x, { executor: new Broken() });
    const r = await dispatchSync(lattice((x: number) => e(x)))(1);
    assert.equal(r.status, "FAILED");
    assert.equal(r.nodes[0]?.error?.message, "executor exploded");
  });
});

describe("bad input", () => {
  it("refuses a non-serializable argument at dispatch, naming its path", async () => {
    const takesConfig = lattice((n: number, cfg: { handler: () => void }) => wf.add(n, cfg as never));
    await assert.rejects(dispatch(takesConfig)(1, { handler: () => undefined }), {
      name: "UnsendableValueError",
      message: /^args\[1\]\.handler: functions cannot be sent to a task/,
    });
  });

  it("refuses a lattice whose return value cannot be stored, before running anything", async () => {
    const ran: number[] = [];
    const work = electron((x: number) => (ran.push(x), x), { executor: "inline" });
    await assert.rejects(dispatch(lattice((x: number) => ({ r: work(x), cb: () => 1 })))(1), {
      name: "UnsendableValueError",
      message: /^lattice output\.cb: functions cannot be sent/,
    });
    assert.deepEqual(ran, []);
  });

  it("reports a lattice function that throws while traced as a TracingError with the cause", async () => {
    const throwing = lattice((x: number): number => {
      if (x > 0) throw new RangeError("x must be ≤ 0");
      return x;
    });
    await assert.rejects(dispatch(throwing)(1), (e: Error) => {
      assert.equal(e.name, "TracingError");
      assert.equal(e.message, 'lattice "throwing" threw while being traced: x must be ≤ 0');
      assert.ok(e.cause instanceof RangeError);
      return true;
    });
  });

  it("fails a node whose return value cannot be stored, naming it", async () => {
    const r = await dispatchSync(wf.returnsFunction)();
    assert.equal(r.status, "FAILED");
    assert.match(r.nodes[0]?.error?.message ?? "", /return value of "makeFn\(0\)": functions cannot be sent/);
  });

  it("rejects an unknown executor name, listing the known ones", async () => {
    const e = electron((x: number) => x, { executor: "no-such-executor" });
    await assert.rejects(dispatch(lattice((x: number) => e(x)))(1), (err: Error) => {
      assert.equal(err.name, "UnknownExecutorError");
      assert.match(err.message, /unknown executor "no-such-executor"\. Known executors: .*inline.*local/);
      return true;
    });
  });

  it("rejects a lattice dispatched with the wrong number of arguments", async () => {
    await assert.rejects(dispatch(wf.arith)(...([1] as unknown as [number, number])), {
      name: "LatticeArgumentsError",
      message: 'lattice "arith" takes 2 argument(s) (x, y), but was dispatched with 1',
    });
  });

  it("explains that electrons return handles when one is used as a plain value", async () => {
    const misuse = lattice((x: number) => wf.add(x, 1) > 3);
    await assert.rejects(dispatch(misuse)(1), { name: "HandleMisuseError", message: /"add\(0\)" was used as a plain value.*handles/ });
    const misuse2 = lattice((x: number) => `${wf.add(x, 1)}`);
    await assert.rejects(dispatch(misuse2)(1), { name: "HandleMisuseError" });
  });

  it("rejects bad electron options where they are written", () => {
    assert.throws(() => electron((x: number) => x, { retries: -1 }), { name: "OptionsError", message: /"retries" must be a whole number/ });
    assert.throws(() => electron((x: number) => x, { executor: 42 as never }), { message: /"executor" must be an executor name/ });
    assert.throws(() => electron((x: number) => x, { retrys: 1 } as never), { message: /unknown option "retrys"/ });
  });

  it("reports an unknown dispatch id", async () => {
    await assert.rejects(getResult("dsp_nosuchthing"), { name: "DispatchNotFoundError", message: /no dispatch "dsp_nosuchthing" in the store at/ });
  });
});
