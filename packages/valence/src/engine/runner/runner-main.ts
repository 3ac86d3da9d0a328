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
 */
import { markTaskRunner } from "../../sdk/global-registry.js";
import { Engine } from "../engine.js";
import { readDispatch } from "../read-result.js";
import { encodeError } from "../run/stored-error.js";
import { toError } from "../../values.js";
import { isTerminal } from "../../status.js";
import { BEAT_MS, type FromRunner, type ToRunner } from "./protocol.js";
import { isDispatchId, type DispatchId } from "../../ids.js";

function send(message: FromRunner): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function main(): Promise<void> {
  const arg = process.argv[2] ?? "";
  if (!isDispatchId(arg)) throw new Error(`usage: runner-main DISPATCH_ID (got ${JSON.stringify(arg)})`);
  const id: DispatchId = arg;
  // The bundle's own top-level `dispatch(...)` must never run again in here.
  markTaskRunner();
  // The server is gone (stopped or killed): stop at once. Tasks that were running
  // are run again when the server resumes the dispatch (at-least-once).
  process.on("disconnect", () => process.exit(0));

  // A task that blocks the event loop stops these; the server then enforces its timeout.
  setInterval(() => void send({ type: "beat" }), BEAT_MS).unref();
  const engine = await Engine.current();
  engine.runOptions = { eagerRunning: true, onChange: (change) => void send({ type: "change", change }) };
  const early: ToRunner[] = [];
  let started = false;
  process.on("message", (m: ToRunner) => {
    if (m.type !== "cancel") return;
    if (!started) early.push(m);
    else cancel(engine, m.dispatchId, m.nodes);
  });

  let run;
  try {
    run = await engine.resume(id, { importBundles: true });
  } catch (error) {
    const e = toError(error);
    const d = readDispatch(engine.store, id);
    if (!isTerminal(d.status)) engine.store.dispatchStatus(id, "FAILED", Date.now(), { error: encodeError(e), ended: true });
    await send({ type: "change", change: { dispatchId: id, at: Date.now(), nodes: [], status: "FAILED" } });
    await send({ type: "load-failed", message: e.message });
    process.exit(0);
  }
  started = true;
  for (const m of early) cancel(engine, m.dispatchId, m.nodes);
  const end = await run.done;
  await run.closed;
  await send({ type: "done", status: end.status });
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
