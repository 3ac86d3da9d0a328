/**
 * Micro-benchmark of the local executor alone (no store, no scheduler):
 * ten thousand trivial independent tasks, and a chain of a thousand where
 * each task is submitted only after the previous one finished.
 *
 *   node --import tsx packages/valence/src/engine/executors/local/bench-pool.ts [--workers N]
 *
 * "cold" includes forking the workers (and, from source, building
 * worker-main once) and loading the bundle in them. From `dist/`, after a
 * build: `node packages/valence/dist/engine/executors/local/bench-pool.js`.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { asElectronId, asNodeId, type DispatchId } from "../../../ids.js";
import type { Task } from "../../../executor/task.js";
import { bundleEntry } from "../../bundle/bundler.js";
import { LocalExecutor, closeLocalPools } from "./local-executor.js";

const HERE = dirname(fileURLToPath(import.meta.url));
// From dist/, the fixture (test support, not built) is read from src/: the bundler compiles it either way.
const FIXTURE = ["test-support/pool-electrons.ts", "../../../../src/engine/executors/local/test-support/pool-electrons.ts"]
  .map((p) => join(HERE, p))
  .find((p) => existsSync(p));
const workersArg = process.argv.indexOf("--workers");
const workers = workersArg > 0 ? Number(process.argv[workersArg + 1]) : availableParallelism();

const dir = await mkdtemp(join(tmpdir(), "valence-bench-pool-"));
if (!FIXTURE) throw new Error(`bench-pool: cannot find test-support/pool-electrons.ts near ${HERE}`);
const { path: bundlePath } = await bundleEntry(FIXTURE, join(dir, "bundles"));
const signal = new AbortController().signal;
const meta = { dispatchId: "dsp_benchpool0" as DispatchId, nodeId: asNodeId(0), resultsDir: dir };
const executor = new LocalExecutor({ workers });

function addTask(a: number, b: number): Task {
  return {
    meta,
    electronId: asElectronId("pool.add"),
    electronName: "add",
    fn: () => a + b, // not used: the worker runs the bundle's copy
    args: [a, b],
    kwargs: {},
    bundlePath,
    signal,
  };
}

async function independent(n: number): Promise<number> {
  const t = performance.now();
  const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => executor.execute(addTask(i, 1))));
  const ms = performance.now() - t;
  if (!outcomes.every((o, i) => o.ok && o.value === i + 1)) throw new Error("wrong results");
  return ms;
}

async function chain(n: number): Promise<number> {
  const t = performance.now();
  let x = 0;
  for (let i = 0; i < n; i++) {
    const outcome = await executor.execute(addTask(x, 1));
    if (!outcome.ok) throw outcome.error;
    x = outcome.value as number;
  }
  const ms = performance.now() - t;
  if (x !== n) throw new Error("wrong chain result");
  return ms;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;

console.log(`local executor, ${workers} workers, node ${process.version}, running from ${extname(fileURLToPath(import.meta.url))} sources`);
const startedAt = performance.now();
await executor.setup();
console.log(`10k independent tasks, cold (forks workers, loads bundle): ${fmt(await independent(10_000))}`);
console.log(`  (process start to here: ${fmt(performance.now())}, of which bundling and imports ${fmt(startedAt)})`);
const warm: number[] = [];
for (let i = 0; i < 7; i++) warm.push(await independent(10_000));
console.log(`10k independent tasks, warm: median ${fmt(median(warm))}, best ${fmt(Math.min(...warm))}`);
const chains: number[] = [];
for (let i = 0; i < 5; i++) chains.push(await chain(1000));
const c = median(chains);
console.log(`1k-task chain, warm: median ${fmt(c)} (${c.toFixed(0)} µs per task), best ${fmt(Math.min(...chains))}`);

await closeLocalPools();
await rm(dir, { recursive: true, force: true });
