import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { initialState, transition, type Effect, type GraphShape, type NodeState } from "./transitions.js";

const node = (pool = "p", retries = 0) => ({ pool, retries });
const runs = (effects: Effect[]) => effects.filter((e) => e.type === "run").map((e) => (e as { node: number }).node);

describe("scheduler transitions", () => {
  it("starts roots, then each node the moment its last parent completes", () => {
    // 0 → 2 ← 1, 2 → 3
    const s = initialState({ nodes: [node(), node(), node(), node()], edges: [[0, 2], [1, 2], [2, 3]] });
    assert.deepEqual(runs(transition(s, { type: "start" })), [0, 1]);
    assert.deepEqual(transition(s, { type: "completed", node: 0 }), []);
    assert.deepEqual(runs(transition(s, { type: "completed", node: 1 })), [2]);
    assert.deepEqual(runs(transition(s, { type: "completed", node: 2 })), [3]);
    assert.deepEqual(transition(s, { type: "completed", node: 3 }), [{ type: "finished", status: "COMPLETED" }]);
  });

  it("counts duplicate edges from one parent once each", () => {
    const s = initialState({ nodes: [node(), node()], edges: [[0, 1], [0, 1]] });
    transition(s, { type: "start" });
    assert.deepEqual(runs(transition(s, { type: "completed", node: 0 })), [1]);
  });

  it("bounds concurrency per pool and keeps FIFO order", () => {
    const shape: GraphShape = { nodes: [node("a"), node("a"), node("a"), node("b")], edges: [], limits: { a: 1 } };
    const s = initialState(shape);
    assert.deepEqual(runs(transition(s, { type: "start" })), [0, 3]);
    assert.deepEqual(runs(transition(s, { type: "completed", node: 0 })), [1]);
    assert.deepEqual(runs(transition(s, { type: "completed", node: 1 })), [2]);
  });

  it("retries a failed node, then fails it and every dependent while independent branches finish", () => {
    // 0 → 1 → 2, and 3 independent
    const s = initialState({ nodes: [node("p", 1), node(), node(), node()], edges: [[0, 1], [1, 2]] });
    assert.deepEqual(runs(transition(s, { type: "start" })), [0, 3]);
    assert.deepEqual(transition(s, { type: "failed", node: 0, error: "boom" }), [{ type: "run", node: 0, attempt: 2 }]);
    const eff = transition(s, { type: "failed", node: 0, error: "boom" });
    assert.deepEqual(
      eff.filter((e) => e.type === "status").map((e) => [(e as { node: number }).node, (e as { status: string }).status]),
      [[1, "FAILED"], [2, "FAILED"]],
    );
    assert.equal(s.state[3], "RUNNING");
    assert.deepEqual(transition(s, { type: "completed", node: 3 }), [{ type: "finished", status: "FAILED" }]);
  });

  it("cancel aborts running nodes, never starts pending ones, and ignores late reports", () => {
    const s = initialState({ nodes: [node(), node()], edges: [[0, 1]] });
    transition(s, { type: "start" });
    const eff = transition(s, { type: "cancel" });
    assert.deepEqual(eff.map((e) => e.type), ["abort", "status", "status", "finished"]);
    assert.deepEqual(eff.at(-1), { type: "finished", status: "CANCELLED" });
    assert.deepEqual(transition(s, { type: "completed", node: 0 }), []);
  });

  it("cancelling one node cancels its dependents only", () => {
    const s = initialState({ nodes: [node(), node(), node()], edges: [[0, 1]] });
    transition(s, { type: "start" });
    transition(s, { type: "cancel", nodes: [0] });
    assert.equal(s.state[1], "CANCELLED");
    assert.deepEqual(transition(s, { type: "completed", node: 2 }), [{ type: "finished", status: "CANCELLED" }]);
  });

  it("cancelling only nodes that already finished changes nothing", () => {
    const s = initialState({ nodes: [node(), node()], edges: [] });
    transition(s, { type: "start" });
    transition(s, { type: "completed", node: 0 });
    assert.deepEqual(transition(s, { type: "cancel", nodes: [0] }), []);
    assert.deepEqual(transition(s, { type: "cancel", nodes: [] }), []);
    assert.deepEqual(transition(s, { type: "completed", node: 1 }), [{ type: "finished", status: "COMPLETED" }]);
  });

  it("resumes: completed nodes are not run again, running ones are", () => {
    const initial: NodeState[] = ["COMPLETED", "RUNNING", "PENDING"];
    const s = initialState({ nodes: [node(), node(), node()], edges: [[0, 1], [1, 2]], initial });
    assert.deepEqual(runs(transition(s, { type: "start" })), [1]);
  });

  it("a graph with everything already settled finishes at start", () => {
    const s = initialState({ nodes: [node()], edges: [], initial: ["COMPLETED"] });
    assert.deepEqual(transition(s, { type: "start" }), [{ type: "finished", status: "COMPLETED" }]);
  });

  it("handles a 100k-node chain in linear time without recursion", () => {
    const n = 100_000;
    const edges: Array<[number, number]> = [];
    for (let i = 1; i < n; i++) edges.push([i - 1, i]);
    const s = initialState({ nodes: Array.from({ length: n }, () => node()), edges });
    let next = runs(transition(s, { type: "start" }));
    let done = 0;
    while (next.length) {
      const eff = transition(s, { type: "completed", node: next[0] as number });
      done++;
      next = runs(eff);
    }
    assert.equal(done, n);
    assert.equal(s.finished, "COMPLETED");
  });

  it("resumes: completed nodes stay done, running ones run again, dependents of failed ones settle at start", () => {
    // 0 → 1 → 2; 3 → 4; 5 alone. 0 completed, 1 was running, 3 failed, 5 completed.
    const initial: Array<NodeState | undefined> = ["COMPLETED", "RUNNING", undefined, "FAILED", undefined, "COMPLETED"];
    const s = initialState({ nodes: Array.from({ length: 6 }, () => node()), edges: [[0, 1], [1, 2], [3, 4]], initial });
    const eff = transition(s, { type: "start" });
    assert.deepEqual(runs(eff), [1]);
    assert.deepEqual(
      eff.filter((e) => e.type === "status").map((e) => [(e as { node: number }).node, (e as { status: string }).status]),
      [[4, "FAILED"]],
    );
    assert.deepEqual(runs(transition(s, { type: "completed", node: 1 })), [2]);
    assert.deepEqual(transition(s, { type: "completed", node: 2 }), [{ type: "finished", status: "FAILED" }]);
  });

  it("resumes a dispatch whose every node had settled straight to its end", () => {
    const s = initialState({ nodes: [node(), node()], edges: [[0, 1]], initial: ["CANCELLED", undefined] });
    const eff = transition(s, { type: "start" });
    assert.deepEqual(eff.at(-1), { type: "finished", status: "CANCELLED" });
  });
});

describe("scheduler transitions: retries with backoff", () => {
  const policy = { initial: 1000, factor: 2, maxDelay: 3000, jitter: false };
  const backoff = (pool = "p", retries = 2, retry: object = policy) => ({ pool, retries, retry: retry as typeof policy });

  it("a failed try waits out its backoff without its pool slot, then runs again counting on", () => {
    // Pool of one: node 1 waits behind node 0 until 0 starts waiting.
    const s = initialState({ nodes: [backoff(), node()], edges: [], limits: { p: 1 } });
    assert.deepEqual(runs(transition(s, { type: "start" })), [0]);
    assert.deepEqual(transition(s, { type: "failed", node: 0, error: "flaky" }), [
      { type: "wait", node: 0, attempt: 1, delayMs: 1000 },
      { type: "run", node: 1, attempt: 1 },
    ]);
    assert.equal(s.state[0], "WAITING");
    // Due while the slot is taken: it queues, and starts when the slot frees.
    assert.deepEqual(transition(s, { type: "due", node: 0 }), []);
    assert.deepEqual(transition(s, { type: "completed", node: 1 }), [{ type: "run", node: 0, attempt: 2 }]);
    // The second failure waits twice as long; the third try is the last.
    assert.deepEqual(transition(s, { type: "failed", node: 0, error: "flaky" }), [{ type: "wait", node: 0, attempt: 2, delayMs: 2000 }]);
    assert.deepEqual(transition(s, { type: "due", node: 0 }), [{ type: "run", node: 0, attempt: 3 }]);
    const last = transition(s, { type: "failed", node: 0, error: "flaky" });
    assert.deepEqual(last, [{ type: "finished", status: "FAILED" }]);
    assert.equal(s.state[0], "FAILED");
  });

  it("jitter comes from the caller's draw, between half the delay and all of it", () => {
    const s = initialState({ nodes: [backoff("p", 1, { ...policy, jitter: true })], edges: [] });
    transition(s, { type: "start" });
    assert.deepEqual(transition(s, { type: "failed", node: 0, error: "x", random: 0 }), [{ type: "wait", node: 0, attempt: 1, delayMs: 500 }]);
  });

  it("an error the policy does not name fails at once, retries left or not", () => {
    const on = [{ name: "TaskTimeoutError" }, { pattern: "ECONNRESET", flags: "" }];
    const s = initialState({ nodes: [backoff("p", 3, { ...policy, on }), backoff("p", 3, { ...policy, on }), backoff("p", 3, { ...policy, on })], edges: [] });
    transition(s, { type: "start" });
    assert.equal(transition(s, { type: "failed", node: 0, error: "read ECONNRESET", errorName: "Error" })[0]?.type, "wait");
    assert.equal(transition(s, { type: "failed", node: 1, error: "task timed out", errorName: "TaskTimeoutError" })[0]?.type, "wait");
    assert.deepEqual(transition(s, { type: "failed", node: 2, error: "bad input", errorName: "TypeError" }), []);
    assert.equal(s.state[2], "FAILED");
  });

  it("a zero backoff retries at once in its slot, as plain retries do", () => {
    const s = initialState({ nodes: [backoff("p", 1, { ...policy, initial: 0 })], edges: [] });
    transition(s, { type: "start" });
    assert.deepEqual(transition(s, { type: "failed", node: 0, error: "x" }), [{ type: "run", node: 0, attempt: 2 }]);
  });

  it("cancelling a waiting node settles it; its due time then changes nothing", () => {
    const s = initialState({ nodes: [backoff(), node()], edges: [[0, 1]] });
    transition(s, { type: "start" });
    transition(s, { type: "failed", node: 0, error: "x" });
    const eff = transition(s, { type: "cancel" });
    assert.deepEqual(eff, [
      { type: "status", node: 0, status: "CANCELLED", reason: "cancelled while it waited to retry", cause: 0 },
      { type: "status", node: 1, status: "CANCELLED", reason: "cancelled before it started", cause: 1 },
      { type: "finished", status: "CANCELLED" },
    ]);
    assert.deepEqual(transition(s, { type: "due", node: 0 }), []);
  });

  it("resumes a waiting node with its tries counted: it waits for its due time, then takes the try after", () => {
    const s = initialState({ nodes: [backoff(), node()], edges: [[0, 1]], initial: ["WAITING", "PENDING"], attempts: [2, undefined] });
    assert.deepEqual(transition(s, { type: "start" }), []);
    assert.deepEqual(transition(s, { type: "due", node: 0 }), [{ type: "run", node: 0, attempt: 3 }]);
    // That was the last try the policy allows (retries: 2).
    assert.deepEqual(
      transition(s, { type: "failed", node: 0, error: "x" }).map((e) => e.type),
      ["status", "finished"],
    );
  });
});
