/**
 * A dispatch runner: the process a server starts for each dispatch it runs.
 *
 * User code never runs in the server. This process loads the dispatch's code
 * bundle, rebuilds its executors (the user's own, like TimingExecutor,
 * included), runs it against the shared store, and reports each committed
 * change to the server over IPC. If a task takes this process down, the
 * server sees it exit, and the store (RUNNING marks are written eagerly
 * here) says which task was running.
 *
 *   node runner-main.js DISPATCH_ID     (forked by the server, with an IPC channel)
 *   node runner-main.js                 (a spare: its modules load now, its dispatch comes later)
 *
 * A spare saves the next dispatch the runner's start-up: the server keeps one
 * ready and sends it `{ type: "run", dispatchId, cwd }`. After its dispatch a
 * runner says "idle" and waits for another "run" (the server sends it only
 * dispatches of the same bundle from the same directory), its engine, store
 * and local workers warm; it exits after RUNNER_IDLE_MS without one.
 */
import { existsSync } from "node:fs";
import { markTaskRunner } from "../../sdk/global-registry.js";
import { Engine } from "../engine.js";
import { readDispatch } from "../read-result.js";
import { encodeError } from "../run/stored-error.js";
import { toError } from "../../values.js";
import { DispatchOwnedError } from "../../errors.js";
import { isTerminal } from "../../status.js";
import { BEAT_MS, RUNNER_IDLE_MS, type FromRunner, type ToRunner } from "./protocol.js";
import { isDispatchId, type DispatchId } from "../../ids.js";
import { ObservationBatch } from "./observation-batch.js";

let started = false;

function send(message: FromRunner): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

interface Job {
  readonly dispatchId: DispatchId;
  readonly cwd: string | undefined;
}

const jobs: Job[] = [];
let jobArrived: (() => void) | undefined;

/** The next dispatch the server sends; undefined when none came within `idleMs`. */
async function nextJob(idleMs: number | undefined): Promise<Job | undefined> {
  while (jobs.length === 0) {
    let timer: NodeJS.Timeout | undefined;
    const came = await new Promise<boolean>((resolve) => {
      jobArrived = () => resolve(true);
      if (idleMs !== undefined) timer = setTimeout(() => resolve(false), idleMs);
    });
    clearTimeout(timer);
    jobArrived = undefined;
    if (!came) return undefined;
  }
  return jobs.shift();
}

async function main(): Promise<void> {
  // The bundle's own top-level `dispatch(...)` must never run again in here.
  markTaskRunner();
  // The server is gone (stopped or killed): stop at once. Tasks that were running
  // are run again when the server resumes the dispatch (at-least-once).
  process.on("disconnect", () => process.exit(0));
  // A task that blocks the event loop stops these; the server then enforces its timeout.
  setInterval(() => void send({ type: "beat" }), BEAT_MS).unref();

  const early: Array<Extract<ToRunner, { type: "cancel" }>> = [];
  let engine: Engine | undefined;
  // The server's metrics and traces are made from these; sending them costs one message per turn.
  const observed = new ObservationBatch((observations) => void send({ type: "observed", observations }));
  process.on("message", (m: ToRunner) => {
    if (m.type === "run") {
      jobs.push({ dispatchId: m.dispatchId, cwd: m.cwd });
      jobArrived?.();
    } else if (m.type === "cancel") {
      // Before the run exists (this runner may still be finishing the last one) a cancel waits
      // for it; it is applied as soon as the run starts.
      if (started && engine?.runs.has(m.dispatchId)) cancel(engine, m.dispatchId, m.nodes);
      else early.push(m);
    }
  });
  const arg = process.argv[2];
  if (arg !== undefined && !isDispatchId(arg)) throw new Error(`usage: runner-main [DISPATCH_ID] (got ${JSON.stringify(arg)})`);
  let job = arg !== undefined ? { dispatchId: arg, cwd: undefined } : await nextJob(undefined);
  const server = process.ppid;
  const closing = new Set<Promise<unknown>>();
  while (job) {
    const id: DispatchId = job.dispatchId;
    // Relative paths in the user's code mean what they meant where it was dispatched; npm
    // executor plugins are found from there too, so the engine starts after the move.
    if (job.cwd && existsSync(job.cwd) && process.cwd() !== job.cwd) process.chdir(job.cwd);
    if (!engine) {
      engine = await Engine.current({ observer: observed });
      // A team server's runner: the bundles it makes (sublattices') go to the team's database too.
      engine.shareBundles = true;
      engine.runOptions = {
        eagerRunning: true,
        observer: observed,
        onChange: (change) => {
          // Told after each commit and before the turn starts any task. If the server died while
          // this process was busy (a long store write), the "disconnect" event is not handled yet:
          // the parent pid, read live, already says so. Starting a task now would run it twice
          // (here, and again in the runner of the server that resumes it).
          if (process.ppid !== server) process.exit(0);
          observed.flush();
          void send({ type: "change", change });
        },
      };
    }
    let run;
    try {
      run = await engine.resume(id, { importBundles: true });
    } catch (error) {
      const e = toError(error);
      const d = await readDispatch(engine.store, id);
      // Another live process runs it (a leftover that would not stop): it is not this runner's to fail.
      if (!isTerminal(d.status) && !(e instanceof DispatchOwnedError)) {
        await engine.store.write((w) => w.dispatchStatus(id, "FAILED", Date.now(), { error: encodeError(e), ended: true }));
        await send({ type: "change", change: { dispatchId: id, at: Date.now(), nodes: [], status: "FAILED" } });
      }
      await send({ type: "load-failed", message: e.message });
      process.exit(0);
    }
    started = true;
    for (const m of early.splice(0)) cancel(engine, m.dispatchId, m.nodes);
    const end = await run.done;
    started = false;
    // Ready for the next dispatch at once (the user's next run often follows as soon as this
    // result is read); this one's executors are torn down meanwhile.
    const closed: Promise<unknown> = run.closed.finally(() => closing.delete(closed));
    closing.add(closed);
    observed.flush();
    await send({ type: "done", status: end.status });
    await send({ type: "idle" });
    job = await nextJob(RUNNER_IDLE_MS);
  }
  await Promise.all([...closing]);
  process.exit(0);
}

function cancel(engine: Engine, id: DispatchId, nodes: readonly number[] | undefined): void {
  try {
    engine.runs.get(id)?.cancel(nodes);
  } catch {
    /* finished meanwhile */
  }
}

main().catch((error: unknown) => {
  console.error(`valence runner: ${toError(error).stack ?? String(error)}`);
  process.exit(70);
});
