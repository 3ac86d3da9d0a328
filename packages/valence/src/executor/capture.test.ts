import assert from "node:assert/strict";
import { test } from "node:test";
import { callCaptured, LIVE_MS, runCaptured } from "./capture.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a task's writes are captured, and handed to the live sink in a chunk while it runs", async () => {
  const seen: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const call = runCaptured(async () => {
    process.stdout.write("a\n");
    process.stderr.write("b\n");
    process.stdout.write("c\n");
    await gate;
    process.stdout.write("late\n");
    return 1;
  }, (stream, text) => seen.push(`${stream}:${text}`));
  await sleep(LIVE_MS * 3);
  assert.deepEqual(seen, ["stdout:a\nc\n", "stderr:b\n"]);
  release();
  assert.equal(await call.result, 1);
  assert.deepEqual(call.output(), { stdout: "a\nc\nlate\n", stderr: "b\n" });
  await sleep(LIVE_MS * 2);
  assert.deepEqual(seen, ["stdout:a\nc\n", "stderr:b\n"], "no chunk after the task ended");
});

test("the live sink runs outside the task's capture: what it writes to stdout is not captured back", async () => {
  const sunk: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const call = callCaptured(
    async () => {
      process.stdout.write("from the task\n");
      await gate;
    },
    (_stream, text) => {
      sunk.push(text);
      // Inside the task's capture this would land in the task's own output and come back as a chunk.
      process.stdout.write(`# the sink got: ${JSON.stringify(text)}\n`);
    },
  );
  await sleep(LIVE_MS * 4);
  release();
  await call.value;
  assert.deepEqual(call.output(), { stdout: "from the task\n", stderr: "" });
  assert.deepEqual(sunk, ["from the task\n"]);
});
