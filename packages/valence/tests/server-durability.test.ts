// The point of a server: kill -9 it at random moments while workflows run, start it again each
// time, and every dispatch still finishes with the right result. Completed steps are not run
// again: each electron appends its name to a file, and a chain has one step running at a time,
// so each kill can cause at most one re-run per dispatch (at-least-once, never "again and again").
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { freePort } from "./fixtures/free-port.js";
import { ServerClient } from "../src/client/server-client.js";

const bin = fileURLToPath(new URL("../bin/valence.js", import.meta.url));
const serverDir = join(dataDir, "server");
let server: ChildProcess | undefined;

after(async () => {
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    await once(server, "exit");
  }
  rmSync(dataDir, { recursive: true, force: true });
});


async function startServerProcess(port: number, client: ServerClient): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bin, "start", "--foreground", "--port", String(port)], {
    env: { ...process.env, VALENCE_DATA_DIR: serverDir },
    stdio: ["ignore", "ignore", "inherit"],
  });
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode} while starting`);
    try {
      if ((await client.health()).pid === child.pid) return child;
    } catch {
      /* not listening yet */
    }
    await sleep(50);
  }
  throw new Error("the server did not answer within 15 s");
}

it("resumes every dispatch after kill -9 at random moments, re-running at most the step that was running", { timeout: 240_000 }, async (t) => {
  assert.ok(existsSync(fileURLToPath(new URL("../dist/cli/main.js", import.meta.url))), "needs the built CLI: run `npm run build` first");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const client = new ServerClient(url);
  server = await startServerProcess(port, client);
  process.env.VALENCE_SERVER = url;
  const { dispatch, getResult } = await import("../src/index.js");
  const { appendChain } = await import("./fixtures/server-workflows.js");

  const STEPS = 12;
  const files = Array.from({ length: 6 }, (_, i) => join(dataDir, `appends-${i}.log`));
  const ids = await Promise.all(files.map((f) => dispatch(appendChain)(f, STEPS, 250)));

  // A seeded sequence of pauses: random moments, the same in every run.
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let kills = 0;
  for (let round = 0; round < 10; round++) {
    await sleep(80 + Math.floor(random() * 600));
    const unfinished = (await client.list(100)).dispatches.filter((d) => ids.includes(d.id as never) && !["COMPLETED", "FAILED", "CANCELLED"].includes(d.status));
    if (!unfinished.length) break;
    server.kill("SIGKILL");
    await once(server, "exit");
    kills++;
    server = await startServerProcess(port, client);
  }
  assert.ok(kills >= 3, `the workflows finished before enough kills (${kills}); make them longer`);

  let reruns = 0;
  for (const [i, id] of ids.entries()) {
    const result = await getResult(id, { wait: true });
    assert.equal(result.status, "COMPLETED", `dispatch ${i}: ${result.error?.message}`);
    assert.equal(result.result, STEPS);
    assert.ok(result.nodes.every((n) => n.status === "COMPLETED"), "no node is left RUNNING");
    const lines = readFileSync(files[i] as string, "utf8").trim().split("\n");
    for (let s = 0; s < STEPS; s++) assert.ok(lines.includes(`s${s}`), `dispatch ${i}: step s${s} never ran`);
    assert.ok(lines.length <= STEPS + kills, `dispatch ${i}: ${lines.length} runs of ${STEPS} steps after ${kills} kills: completed steps ran again`);
    // Steps ran in order: a re-run repeats the step that was running, never an earlier one.
    reruns += lines.length - STEPS;
    const firstSeen = Array.from({ length: STEPS }, (_, s) => lines.indexOf(`s${s}`));
    assert.deepEqual([...firstSeen].sort((a, b) => a - b), firstSeen);
  }
  t.diagnostic(`${kills} kills, ${reruns} re-runs of steps across ${ids.length} dispatches of ${STEPS} steps`);
});
