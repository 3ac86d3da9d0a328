/**
 * The server's Prometheus metrics (prom-client), served at GET /metrics.
 *
 * Two sources, each the one that sees the thing happen:
 * - the committed state changes the server publishes (its runners' and its
 *   own: a runner that crashed fails its nodes from here) give the counters of
 *   terminal outcomes and the gauge of running nodes;
 * - the observations its runners send (engine/observe) give the timings:
 *   task duration and queue wait per executor, store write latency.
 * Runner pool sizes and running dispatches are read from the supervisor at
 * scrape time. A registry of its own, not prom-client's global one, so two
 * servers in one process (tests) keep their figures apart.
 *
 * Counters only ever go up and the server's own figures start at zero when it
 * starts, as Prometheus expects (`rate()`, `increase()` handle the restart).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { DispatchId } from "../../ids.js";
import { assertNever, isTerminal } from "../../status.js";
import type { Observation, RunObserver } from "../../engine/observe/observation.js";
import type { RunChange } from "../../engine/run/run-types.js";
import type { RunnerPool } from "../supervisor.js";

export interface MetricsSources {
  readonly version: string;
  /** Top-level dispatches with a live runner. */
  readonly runningDispatches: () => number;
  readonly runners: () => RunnerPool;
}

/** Seconds: from in-process tasks (well under a millisecond) to hour-long remote jobs. */
const TASK_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const WAIT_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];
const WRITE_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class ServerMetrics implements RunObserver {
  readonly registry = new Registry();
  private readonly dispatches: Counter<"status">;
  private readonly nodes: Counter<"status">;
  private readonly taskDuration: Histogram<"executor">;
  private readonly queueWait: Histogram<"executor">;
  private readonly retries: Counter<"executor">;
  private readonly storeWrites: Histogram<"op">;
  private readonly storeWriteFailures: Counter<"op">;
  private readonly cacheResults: Counter<"result">;
  /** By dispatch: its nodes running now (what the running-nodes gauge counts). */
  private readonly runningNodes = new Map<DispatchId, Set<number>>();

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    // The process's own figures (CPU, memory, event-loop lag, open handles), under their standard names.
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: "valence_info", help: "Always 1; the server's version as a label", labelNames: ["version"], registers }).set({ version: sources.version }, 1);
    this.dispatches = new Counter({ name: "valence_dispatches_total", help: "Dispatch runs that ended, by final status (a sublattice's run counts as a dispatch of its own)", labelNames: ["status"], registers });
    this.nodes = new Counter({ name: "valence_nodes_total", help: "Nodes that reached a final status, by status (parameters, which never run, are not counted)", labelNames: ["status"], registers });
    new Gauge({
      name: "valence_dispatches_running",
      help: "Top-level dispatches with a live runner now",
      registers,
      collect() {
        this.set(sources.runningDispatches());
      },
    });
    const running = this.runningNodes;
    new Gauge({
      name: "valence_nodes_running",
      help: "Nodes running now",
      registers,
      collect() {
        let n = 0;
        for (const set of running.values()) n += set.size;
        this.set(n);
      },
    });
    new Gauge({
      name: "valence_runners",
      help: "The server's dispatch runner processes, by state: busy (running a dispatch), idle (warm, waiting for another of the same bundle), spare (started ahead)",
      labelNames: ["state"],
      registers,
      collect() {
        const pool = sources.runners();
        for (const state of ["busy", "idle", "spare"] as const) this.set({ state }, pool[state]);
      },
    });
    this.taskDuration = new Histogram({ name: "valence_task_duration_seconds", help: "Task attempts from their body's start (or handoff, where the executor does not say) to their end, by executor", labelNames: ["executor"], buckets: TASK_BUCKETS, registers });
    this.queueWait = new Histogram({ name: "valence_queue_wait_seconds", help: "From a task's handoff to its executor to its body starting (worker, host or cluster queue), by executor; only executors that report the start", labelNames: ["executor"], buckets: WAIT_BUCKETS, registers });
    this.retries = new Counter({ name: "valence_task_retries_total", help: "Failed task attempts that were tried again, by executor", labelNames: ["executor"], registers });
    this.storeWrites = new Histogram({ name: "valence_store_write_seconds", help: "Store writes from the call until durable, server and runners alike, by op (write: a batch of writes; transaction: reads then writes)", labelNames: ["op"], buckets: WRITE_BUCKETS, registers });
    this.cacheResults = new Counter({
      name: "valence_cache_results_total",
      help: "Completions of electrons with `cache`, by result: hit (an earlier run's result reused, the task not run) or stored (run, and its result kept)",
      labelNames: ["result"],
      registers,
    });
    this.storeWriteFailures = new Counter({ name: "valence_store_write_failures_total", help: "Store writes refused (disk full, database gone), by op", labelNames: ["op"], registers });
  }

  /** The Prometheus text exposition of every metric, and its content type. */
  async render(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  /** A committed change published by the server (see EventHub.tap). */
  changed(change: RunChange): void {
    let running = this.runningNodes.get(change.dispatchId);
    for (const { node, status } of change.nodes) {
      if (status === "RUNNING") {
        if (!running) this.runningNodes.set(change.dispatchId, (running = new Set()));
        running.add(node);
      } else if (isTerminal(status)) {
        this.nodes.inc({ status });
        running?.delete(node);
      }
    }
    if (change.status && isTerminal(change.status)) {
      this.dispatches.inc({ status: change.status });
      this.runningNodes.delete(change.dispatchId);
    }
  }

  observe(o: Observation): void {
    switch (o.kind) {
      case "node-ended": {
        if (o.cache) this.cacheResults.inc({ result: o.cache });
        // A hit ran nothing: no task duration or queue wait to tell.
        if (o.executor === null || o.cache === "hit") return;
        const labels = { executor: o.executor };
        this.taskDuration.observe(labels, Math.max(0, o.endedAt - (o.startedAt ?? o.handedOverAt)) / 1000);
        if (o.startedAt !== null) this.queueWait.observe(labels, Math.max(0, o.startedAt - o.handedOverAt) / 1000);
        if (o.retrying) this.retries.inc(labels);
        return;
      }
      case "store-write":
        this.storeWrites.observe({ op: o.op }, o.seconds);
        if (!o.ok) this.storeWriteFailures.inc({ op: o.op });
        return;
      case "dispatch-started":
      case "dispatch-ended":
        return; // counted from the published changes, which also see the runs a crashed runner ended
      default:
        assertNever(o, "observation");
    }
  }
}
