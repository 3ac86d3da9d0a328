/**
 * The scheduler's decisions, as one transition function with no I/O.
 *
 * `transition(state, event)` updates the state in place and returns the
 * effects the I/O shell must carry out: write them to the store, then start
 * tasks / abort tasks / finish the dispatch. No clocks, no sockets, no
 * promises: tests feed events and compare effects. (In place rather than
 * copy-on-write because dispatches have 100k nodes and every event must cost
 * O(its own work), as in dask's worker state machine.)
 */
import { assertNever } from "../../status.js";
import type { RetryPolicy } from "../../sdk/retry.js";
import { retriesOn, retryDelay } from "./backoff.js";

/** WAITING: a try failed and the next waits out its backoff, holding no slot of its pool. */
export type NodeState = "PENDING" | "RUNNING" | "WAITING" | "COMPLETED" | "FAILED" | "CANCELLED";
export type FinalStatus = "COMPLETED" | "FAILED" | "CANCELLED";

export interface NodeSpec {
  /** Key of the concurrency pool the node runs in (its executor). */
  readonly pool: string;
  /** Tries after the first failure. */
  readonly retries: number;
  /** Backoff and which errors retry; without one a failed try is retried at once, in its slot. */
  readonly retry?: RetryPolicy | undefined;
}

export interface GraphShape {
  readonly nodes: readonly NodeSpec[];
  /** One entry per edge (duplicates allowed): source → target. */
  readonly edges: ReadonlyArray<readonly [source: number, target: number]>;
  /** Concurrency limit per pool key; absent means unbounded. */
  readonly limits?: Readonly<Record<string, number>>;
  /** Node states already settled (resume after a restart, parameters). */
  readonly initial?: ReadonlyArray<NodeState | undefined>;
  /** Tries already made, for nodes that resume WAITING (the next try counts on from them). */
  readonly attempts?: ReadonlyArray<number | undefined>;
}

export type SchedulerEvent =
  | { readonly type: "start" }
  | { readonly type: "completed"; readonly node: number }
  /**
   * A try failed. `errorName` is matched by the policy's `on` (default "Error"); `random`, a
   * draw in [0, 1) for the backoff's jitter, comes from the caller so this stays pure (default 1).
   */
  | { readonly type: "failed"; readonly node: number; readonly error: string; readonly errorName?: string; readonly random?: number }
  /** A WAITING node's backoff is over: it queues for its pool again. */
  | { readonly type: "due"; readonly node: number }
  | { readonly type: "cancel"; readonly nodes?: readonly number[] };

export type Effect =
  /** Mark RUNNING and start the task (attempt counts from 1). */
  | { readonly type: "run"; readonly node: number; readonly attempt: number }
  /** Record a settled status; `reason` says why for FAILED/CANCELLED nodes that did not run. */
  | { readonly type: "status"; readonly node: number; readonly status: "FAILED" | "CANCELLED"; readonly reason: string; readonly cause: number }
  /** Record that try `attempt` failed and the next starts after `delayMs` (the shell sends "due" then). */
  | { readonly type: "wait"; readonly node: number; readonly attempt: number; readonly delayMs: number }
  /** Stop a running task. */
  | { readonly type: "abort"; readonly node: number }
  | { readonly type: "finished"; readonly status: FinalStatus };

interface Pool {
  readonly limit: number;
  running: number;
  readonly queue: number[];
  head: number;
}

export interface SchedulerState {
  readonly state: NodeState[];
  readonly waitingOn: Int32Array;
  readonly attempts: Int32Array;
  /**
   * Node i's children are childList[childStart[i]] up to childList[childStart[i + 1]]: two
   * typed arrays for the whole graph, not an array per node (100k of them would live for the
   * whole dispatch, and be copied by every scavenge).
   */
  readonly childStart: Int32Array;
  readonly childList: Int32Array;
  readonly specs: readonly NodeSpec[];
  readonly pools: Map<string, Pool>;
  /** Nodes not yet COMPLETED/FAILED/CANCELLED. */
  open: number;
  anyFailed: boolean;
  anyCancelled: boolean;
  cancelRequested: boolean;
  finished: FinalStatus | undefined;
}

export function initialState(shape: GraphShape): SchedulerState {
  const n = shape.nodes.length;
  const state: NodeState[] = new Array<NodeState>(n);
  const waitingOn = new Int32Array(n);
  for (let i = 0; i < n; i++) state[i] = shape.initial?.[i] ?? "PENDING";
  // A node that was RUNNING when the dispatcher stopped is run again (at-least-once).
  for (let i = 0; i < n; i++) if (state[i] === "RUNNING") state[i] = "PENDING";
  const attempts = new Int32Array(n);
  // A node that resumes WAITING keeps its count: its failed tries were real ones.
  for (let i = 0; i < n; i++) if (state[i] === "WAITING") attempts[i] = shape.attempts?.[i] ?? 1;
  for (const [s, t] of shape.edges) if (state[s] !== "COMPLETED") waitingOn[t]!++;
  const { childStart, childList } = childLists(n, shape.edges);
  let open = 0;
  let anyFailed = false;
  let anyCancelled = false;
  for (let i = 0; i < n; i++) {
    if (state[i] === "PENDING" || state[i] === "WAITING") open++;
    if (state[i] === "FAILED") anyFailed = true;
    if (state[i] === "CANCELLED") anyCancelled = true;
  }
  const pools = new Map<string, Pool>();
  for (const spec of shape.nodes) {
    if (!pools.has(spec.pool)) {
      pools.set(spec.pool, { limit: shape.limits?.[spec.pool] ?? Number.POSITIVE_INFINITY, running: 0, queue: [], head: 0 });
    }
  }
  return {
    state,
    waitingOn,
    attempts,
    childStart,
    childList,
    specs: shape.nodes,
    pools,
    open,
    anyFailed,
    anyCancelled,
    cancelRequested: false,
    finished: undefined,
  };
}

export function transition(s: SchedulerState, event: SchedulerEvent): Effect[] {
  const effects: Effect[] = [];
  if (s.finished) return effects;
  switch (event.type) {
    case "start":
      // Resumed after a restart: what depends on a node that already failed or was cancelled can never run.
      for (let i = 0; i < s.state.length; i++) {
        const st = s.state[i];
        if (st === "FAILED" || st === "CANCELLED") settleDescendants(s, i, st, effects);
      }
      for (let i = 0; i < s.state.length; i++) if (s.state[i] === "PENDING" && s.waitingOn[i] === 0) enqueue(s, i, effects);
      break;
    case "completed": {
      if (s.state[event.node] !== "RUNNING") break; // late report for an aborted/cancelled node
      settle(s, event.node, effects);
      for (let i = s.childStart[event.node]!; i < s.childStart[event.node + 1]!; i++) {
        const c = s.childList[i]!;
        if (--s.waitingOn[c]! === 0 && s.state[c] === "PENDING" && !s.cancelRequested) enqueue(s, c, effects);
      }
      break;
    }
    case "failed": {
      if (s.state[event.node] !== "RUNNING") break;
      const spec = s.specs[event.node] as NodeSpec;
      const pool = s.pools.get(spec.pool) as Pool;
      const tried = s.attempts[event.node]!;
      if (tried <= spec.retries && !s.cancelRequested && retriesOn(spec.retry, { name: event.errorName ?? "Error", message: event.error })) {
        const delayMs = spec.retry ? retryDelay(spec.retry, tried, event.random ?? 1) : 0;
        if (delayMs === 0) {
          // Retry at once, in place: it keeps its slot.
          s.attempts[event.node]!++;
          effects.push({ type: "run", node: event.node, attempt: s.attempts[event.node]! });
          return effects;
        }
        // Its slot goes to the next in the pool while it waits.
        s.state[event.node] = "WAITING";
        pool.running--;
        effects.push({ type: "wait", node: event.node, attempt: tried, delayMs });
        drain(s, pool, effects);
        return effects;
      }
      pool.running--;
      s.state[event.node] = "FAILED";
      s.open--;
      s.anyFailed = true;
      settleDescendants(s, event.node, "FAILED", effects);
      drain(s, pool, effects);
      break;
    }
    case "due":
      if (s.state[event.node] !== "WAITING") break; // cancelled while it waited
      s.state[event.node] = "PENDING";
      enqueue(s, event.node, effects);
      break;
    case "cancel":
      cancel(s, event.nodes, effects);
      break;
    default:
      assertNever(event, "scheduler event");
  }
  if (s.open === 0) {
    s.finished = s.cancelRequested ? "CANCELLED" : s.anyFailed ? "FAILED" : s.anyCancelled ? "CANCELLED" : "COMPLETED";
    effects.push({ type: "finished", status: s.finished });
  }
  return effects;
}

function enqueue(s: SchedulerState, node: number, effects: Effect[]): void {
  const pool = s.pools.get((s.specs[node] as NodeSpec).pool) as Pool;
  if (pool.running < pool.limit) {
    pool.running++;
    startNow(s, node, effects);
  } else {
    pool.queue.push(node);
  }
}

function startNow(s: SchedulerState, node: number, effects: Effect[]): void {
  s.state[node] = "RUNNING";
  // 1 for a first try; a node back from WAITING counts on.
  const attempt = ++s.attempts[node]!;
  effects.push({ type: "run", node, attempt });
}

function settle(s: SchedulerState, node: number, effects: Effect[]): void {
  s.state[node] = "COMPLETED";
  s.open--;
  const pool = s.pools.get((s.specs[node] as NodeSpec).pool) as Pool;
  pool.running--;
  // The next queued node in this pool starts before the children: FIFO within a pool.
  drain(s, pool, effects);
}

function drain(s: SchedulerState, pool: Pool, effects: Effect[]): void {
  while (pool.running < pool.limit && pool.head < pool.queue.length) {
    const next = pool.queue[pool.head++] as number;
    if (s.state[next] !== "PENDING") continue; // failed or cancelled while queued
    pool.running++;
    startNow(s, next, effects);
  }
  if (pool.head > 1024 && pool.head * 2 > pool.queue.length) {
    pool.queue.splice(0, pool.head);
    pool.head = 0;
  }
}

/** Each node's children, in edge order, packed into two arrays (see SchedulerState.childStart). */
function childLists(n: number, edges: GraphShape["edges"]): { childStart: Int32Array; childList: Int32Array } {
  const childStart = new Int32Array(n + 1);
  for (const [s] of edges) childStart[s + 1]!++;
  for (let i = 0; i < n; i++) childStart[i + 1]! += childStart[i]!;
  const childList = new Int32Array(edges.length);
  const next = childStart.slice(0, n);
  for (const [s, t] of edges) childList[next[s]!++] = t;
  return { childStart, childList };
}

/** Every pending node downstream of `from` can never run: settle it, naming the node that caused it. */
function settleDescendants(s: SchedulerState, from: number, status: "FAILED" | "CANCELLED", effects: Effect[]): void {
  const reason = status === "FAILED" ? `not run: upstream node ${from} failed` : `not run: upstream node ${from} was cancelled`;
  const stack = [...s.childList.subarray(s.childStart[from], s.childStart[from + 1])];
  while (stack.length) {
    const n = stack.pop() as number;
    if (s.state[n] !== "PENDING") continue;
    s.state[n] = status;
    s.open--;
    effects.push({ type: "status", node: n, status, reason, cause: from });
    for (let i = s.childStart[n]!; i < s.childStart[n + 1]!; i++) stack.push(s.childList[i]!);
  }
}

function cancel(s: SchedulerState, nodes: readonly number[] | undefined, effects: Effect[]): void {
  const targets = nodes ?? s.state.map((_, i) => i);
  if (!nodes) s.cancelRequested = true;
  let changed = false;
  for (const n of targets) {
    const st = s.state[n];
    if (st === "PENDING" || st === "WAITING") {
      changed = true;
      s.state[n] = "CANCELLED";
      s.open--;
      const reason = st === "WAITING" ? "cancelled while it waited to retry" : "cancelled before it started";
      effects.push({ type: "status", node: n, status: "CANCELLED", reason, cause: n });
    } else if (st === "RUNNING") {
      changed = true;
      s.state[n] = "CANCELLED";
      s.open--;
      (s.pools.get((s.specs[n] as NodeSpec).pool) as Pool).running--;
      effects.push({ type: "abort", node: n });
      effects.push({ type: "status", node: n, status: "CANCELLED", reason: "cancelled while running", cause: n });
    }
  }
  if (nodes && changed) {
    // Cancelling some nodes: what depends on them cannot run either. Cancelling
    // only nodes that already finished changes nothing.
    s.anyCancelled = true;
    for (const n of nodes) settleDescendants(s, n, "CANCELLED", effects);
  }
  for (const pool of s.pools.values()) drain(s, pool, effects);
}
