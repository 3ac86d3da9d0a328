// A running task's output, read while it runs (issue 16): in-process and local-worker tasks,
// `valence logs DISPATCH NODE -f` from another process, the output cap, and bad input.
import "./fixtures/env.js";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { dispatch, getResult } from "../src/index.js";
import { currentDispatcher } from "../src/client/dispatcher.js";
import { Engine } from "../src/engine/engine.js";
import type { DispatchId } from "../src/ids.js";
import type { TaskOutput } from "../src/engine/task-output.js";
import { flakyFlow, floodFlow, inlineFlow, localFlow } from "./fixtures/live-workflows.js";

// Small, so the flood test crosses it; set before the engine reads its config.
process.env.VALENCE_OUTPUT_LIMIT = "4096";
const bin = fileURLToPath(new URL("../bin/valence.js", import.meta.url));
const gates = mkdtempSync(join(tmpdir(), "valence-gates-"));
let gateCount = 0;
const newGate = () => join(gates, `gate-${gateCount++}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads the node's output until `ready` says so (at most 30 s), gathering the chunks on the way. */
async function readUntil(id: DispatchId, node: number, ready: (o: TaskOutput, text: { stdout: string; stderr: string }) => boolean) {
  const d = await currentDispatcher();
  const text = { stdout: "", stderr: "" };
  let after = 0;
  for (let i = 0; ; i++) {
    const o = await d.taskOutput(id, node, after);
    for (const c of o.chunks) text[c.stream] += c.text;
    after = o.next;
    if (ready(o, text)) return { last: o, text };
    assert.ok(i < 600, `the output never got there: ${JSON.stringify(text)} (status ${o.status})`);
    await sleep(50);
  }
}

/** `valence logs ID NODE -f` in another process, with what it printed so far. */
function followLogs(id: DispatchId, node: number) {
  const cli = spawn(process.execPath, [bin, "logs", id, String(node), "-f"], { env: process.env, stdio: ["ignore", "pipe", "pipe"] });
  const seen = {
    out: "",
    err: "",
    exited: new Promise<number | null>((r) => cli.once("exit", (code) => r(code))),
    async until(ready: () => boolean) {
      for (let i = 0; !ready(); i++) {
        assert.ok(i < 600 && cli.exitCode === null, `valence logs -f printed ${JSON.stringify(seen.out)} / ${JSON.stringify(seen.err)}`);
        await sleep(50);
      }
    },
  };
  cli.stdout.on("data", (b: Buffer) => (seen.out += b.toString()));
  cli.stderr.on("data", (b: Buffer) => (seen.err += b.toString()));
  return seen;
}

async function followedWhileRunning(flow: typeof inlineFlow) {
  const gate = newGate();
  const id = await dispatch(flow)(gate);
  const node = 0; // the task; its parameter comes after it
  const { last, text } = await readUntil(id, node, (_, t) => t.stdout.includes("line 2") && t.stderr.includes("warn 1"));
  assert.equal(last.status, "RUNNING");
  assert.equal(last.ended, false);
  assert.equal(text.stdout, "line 1\nline 2\n");
  assert.equal(text.stderr, "warn 1\n");
  writeFileSync(gate, "");
  const r = await getResult(id, { wait: true });
  assert.equal(r.status, "COMPLETED");
  const end = await (await currentDispatcher()).taskOutput(id, node);
  assert.deepEqual([end.ended, end.status, end.stdout, end.stderr, end.chunks.length], [true, "COMPLETED", "line 1\nline 2\nafter gate\n", "warn 1\n", 0]);
  // The whole output is in the node's row now; its chunks are gone.
  assert.deepEqual(await (await Engine.current()).store.getLiveOutput(id, null), []);
}

describe("live task output", () => {
  it("an inline task's printed lines can be read while it runs, and its whole output once it ends", async () => {
    await followedWhileRunning(inlineFlow);
  });

  it("a local worker's task's printed lines can be read while it runs, and its whole output once it ends", async () => {
    await followedWhileRunning(localFlow);
  });

  it("valence logs DISPATCH NODE -f, from another process, follows the task until it ends", async () => {
    const gate = newGate();
    const id = await dispatch(localFlow)(gate);
    const cli = followLogs(id, 0);
    await cli.until(() => cli.out.includes("line 2"));
    assert.equal(cli.out, "line 1\nline 2\n", "what it printed before the task ended");
    writeFileSync(gate, "");
    assert.equal(await cli.exited, 0, cli.err);
    assert.equal(cli.out, "line 1\nline 2\nafter gate\n");
    assert.equal(cli.err, "warn 1\n");
    // Without -f, after the end: the whole output once.
    const again = spawnSync(process.execPath, [bin, "logs", id, "0"], { env: process.env, encoding: "utf8" });
    assert.deepEqual([again.status, again.stdout, again.stderr], [0, "line 1\nline 2\nafter gate\n", "warn 1\n"]);
  });

  it("keeps at most output_limit bytes of a task's output, live and at the end, and says where it was cut", async () => {
    const gate = newGate();
    const id = await dispatch(floodFlow)(gate, 100); // 10,000 bytes against a limit of 4,096
    const { text } = await readUntil(id, 0, (_, t) => t.stdout.includes("[valence: output cut"));
    const [kept] = text.stdout.split("\n[valence:");
    assert.equal(Buffer.byteLength(kept as string), 4096, "live: the first 4,096 bytes, then the marker");
    assert.match(text.stdout, /\[valence: output cut at the limit of 4096 bytes \(output_limit\); the rest not kept\]\n$/);
    writeFileSync(gate, "");
    const r = await getResult(id, { wait: true });
    assert.equal(r.status, "COMPLETED");
    const stdout = r.nodes[0]?.stdout ?? "";
    assert.equal(stdout.indexOf("\n[valence:"), 4096);
    assert.match(stdout, /\[valence: output cut at the limit of 4096 bytes \(output_limit\); 5904 more bytes not kept\]\n$/);
  });

  it("valence logs -f at the cap prints the kept bytes and one marker, and nothing after it", async () => {
    const gate = newGate();
    const id = await dispatch(floodFlow)(gate, 100);
    const cli = followLogs(id, 0);
    await cli.until(() => cli.out.includes("[valence: output cut"));
    writeFileSync(gate, "");
    assert.equal(await cli.exited, 0, cli.err);
    const line = `${"x".repeat(99)}\n`;
    assert.equal(cli.out, line.repeat(41).slice(0, 4096) + "\n[valence: output cut at the limit of 4096 bytes (output_limit); the rest not kept]\n");
    assert.equal((await getResult(id, { wait: true })).status, "COMPLETED");
  });

  it("valence logs -f says when a task is retried, and prints the new attempt's output after it", async () => {
    const gate = newGate();
    const id = await dispatch(flakyFlow)(gate);
    const cli = followLogs(id, 0);
    await cli.until(() => cli.out.includes("attempt 1"));
    writeFileSync(`${gate}.1`, "");
    await cli.until(() => cli.out.includes("attempt 2"));
    writeFileSync(`${gate}.2`, "");
    assert.equal(await cli.exited, 0, cli.err);
    assert.equal(cli.out, "attempt 1\nattempt 2\n");
    assert.equal(cli.err, "\n[valence: node 0 was retried (attempt 2); its output starts again]\n");
    assert.equal((await getResult(id, { wait: true })).status, "COMPLETED");
  });

  it("a killed dispatcher's task output stays readable, and the resumed run's output replaces it", async () => {
    const gate = newGate();
    const fixture = fileURLToPath(new URL("./fixtures/dispatch-live-and-hang.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", fixture, gate], { env: process.env, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8");
    for await (const chunk of child.stdout) {
      out += chunk as string;
      if (out.includes("\n")) break;
    }
    const id = out.trim() as DispatchId;
    assert.match(id, /^dsp_/);
    await readUntil(id, 0, (_, t) => t.stderr.includes("warn 1") && t.stdout.includes("line 2"));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    // What the task printed before its dispatcher died, from the store, by another process.
    const after = spawnSync(process.execPath, [bin, "logs", id, "0"], { env: process.env, encoding: "utf8" });
    assert.deepEqual([after.status, after.stdout, after.stderr], [0, "line 1\nline 2\n", "warn 1\n"]);
    // Resumed, the task runs again: its new chunks replace the old attempt's, and its end stores the whole output once.
    writeFileSync(gate, "");
    const resumed = spawnSync(process.execPath, [bin, "resume", id], { env: process.env, encoding: "utf8", timeout: 60_000 });
    assert.equal(resumed.status, 0, resumed.stderr);
    const r = await getResult(id, { wait: true });
    assert.equal(r.status, "COMPLETED");
    assert.equal(r.nodes[0]?.stdout, "line 1\nline 2\nafter gate\n");
    assert.deepEqual(await (await Engine.current()).store.getLiveOutput(id, null), []);
  });

  it("refuses a node the dispatch does not have, an unknown dispatch, and a wrong command line, saying what to fix", async () => {
    const gate = newGate();
    writeFileSync(gate, "");
    const id = await dispatch(inlineFlow)(gate);
    await getResult(id, { wait: true });
    const d = await currentDispatcher();
    await assert.rejects(d.taskOutput(id, 9), { name: "NodeNotFoundError", message: `dispatch ${id} has nodes 0 to 1; no such node: 9` });
    await assert.rejects(d.taskOutput("dsp_nosuchdispatch0" as DispatchId, 0), { name: "DispatchNotFoundError" });
    const one = spawnSync(process.execPath, [bin, "logs", id], { env: process.env, encoding: "utf8" });
    assert.equal(one.status, 2);
    assert.match(one.stderr, /expected a dispatch id and a node id, or neither/);
    const bad = spawnSync(process.execPath, [bin, "logs", id, "first"], { env: process.env, encoding: "utf8" });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /NODE must be a node id \(a whole number\), got "first"/);
  });
});
