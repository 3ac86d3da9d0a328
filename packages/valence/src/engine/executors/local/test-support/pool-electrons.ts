/**
 * Electrons for the pool's own tests: the ways a task can take its worker
 * down or misbehave. Only bundled, never imported by the tests (an `exit`
 * run in the test process would end it).
 */
import { appendFileSync } from "node:fs";
import { registerElectron } from "../../../../sdk/global-registry.js";

registerElectron("pool.add", (a: number, b: number) => a + b);

registerElectron("pool.pid", () => process.pid);

/** Appends `tag` to `file` (each run shows), then sleeps. */
registerElectron("pool.logThenSleep", async (file: string, tag: string, ms: number) => {
  appendFileSync(file, `${tag}\n`);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return tag;
});

/** Reports its worker's pid to the parent test at once (for a kill from outside), then sleeps. */
registerElectron("pool.pidThenSleep", async (ms: number) => {
  process.stderr.write(`pid ${process.pid}\n`);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return process.pid;
});

registerElectron("pool.exit", (code: number) => process.exit(code));

/** Throws from a timer, outside any await: node prints it and the worker dies. */
registerElectron("pool.uncaught", (message: string) => {
  setTimeout(() => {
    throw new Error(message);
  }, 0);
  return new Promise(() => {});
});

registerElectron("pool.sleep", (ms: number) => new Promise((resolve) => setTimeout(() => resolve(ms), ms)));

/** Blocks its worker's event loop: only killing the process stops it. */
registerElectron("pool.spin", () => {
  for (;;) {
    // busy
  }
});

/** Keeps its worker busy for `ms` (synchronously): tasks behind it on that worker wait. */
registerElectron("pool.busy", (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end);
  return ms;
});

registerElectron("pool.returnsFunction", () => () => 1);
