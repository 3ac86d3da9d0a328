import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, test } from "node:test";
import { workerExecArgv, workerMainPath } from "./worker-argv.js";

describe("worker flags", () => {
  test("from source, worker-main is built into one plain module outside tsx's reach", () => {
    const path = workerMainPath();
    assert.match(path, /valence-worker-main-[0-9a-f]{16}\.mjs$/);
    assert.ok(existsSync(path));
    assert.equal(workerMainPath(), path);
  });

  test("a TypeScript worker keeps tsx; test-runner flags are dropped", () => {
    assert.deepEqual(workerExecArgv("/x/worker-main.ts", ["--import", "tsx", "--test-concurrency=2"]), ["--import", "tsx"]);
  });

  test("a JavaScript worker drops tsx in every spelling, and keeps other hooks", () => {
    const argv = ["--import", "tsx", "--import=tsx/esm", "--require", "/p/node_modules/tsx/dist/cjs.cjs", "--import", "./otel.mjs"];
    assert.deepEqual(workerExecArgv("/x/worker-main.js", argv), ["--import", "./otel.mjs"]);
  });

  test("debugger and watch flags are dropped with their values; memory flags stay", () => {
    const argv = ["--inspect-brk=9229", "--test-reporter", "spec", "--watch", "--max-old-space-size=4096", "--enable-source-maps"];
    assert.deepEqual(workerExecArgv("/x/worker-main.js", argv), ["--max-old-space-size=4096", "--enable-source-maps"]);
  });
});
