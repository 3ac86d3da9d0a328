// The most common crash there is: `kill -9` the server mid-dispatch and start it again at
// once, as a user would from the shell (`valence start` in the background). The killed server
// lingers as a zombie until something reaps it; nothing may take that for a live server.
import { dataDir as root } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { freePort } from "./fixtures/free-port.js";
import { killAllOn, settled } from "./fixtures/processes.js";

const bin = fileURLToPath(new URL("../bin/valence.js", import.meta.url));
const dataDir = join(root, "server");
const env: NodeJS.ProcessEnv = { ...process.env, VALENCE_DATA_DIR: dataDir };
delete env.VALENCE_SERVER;

function valence(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}
// One port for the file: the SDK in this process settles on the first server address it is given.
const portOnce = freePort();
const serverPid = () => (JSON.parse(readFileSync(join(dataDir, "server.json"), "utf8")) as { pid: number }).pid;
const procState = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] ?? "?";
  } catch {
    return "gone";
  }
};

after(() => {
  killAllOn(dataDir);
  rmSync(root, { recursive: true, force: true });
});

it("starts again at once after kill -9 (no pause, and 0.5 s later), resumes the dispatch, and status tells the truth throughout", { timeout: 120_000 }, async (t) => {
  assert.ok(existsSync(fileURLToPath(new URL("../dist/cli/main.js", import.meta.url))), "needs the built CLI: run `npm run build` first");
  const port = String(await portOnce);
  const started = valence(["start", "--port", port]);
  assert.equal(started.code, 0, started.out);
  process.env.VALENCE_SERVER = `http://127.0.0.1:${port}`;
  const { dispatch, getResult } = await import("../src/index.js");
  const { appendChain } = await import("./fixtures/server-workflows.js");

  const STEPS = 30;
  const file = join(root, "steps.log");
  const id = await dispatch(appendChain)(file, STEPS, 100);
  const stepsRun = () => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").length : 0);

  const pauses = [0, 500];
  for (const [k, pause] of pauses.entries()) {
    while (stepsRun() < 8 + k * 10) await sleep(20);
    const old = serverPid();
    process.kill(old, "SIGKILL");
    await sleep(pause);
    t.diagnostic(`kill ${k + 1}: server pid ${old} is ${procState(old)} ${pause} ms after kill -9`);
    const down = valence(["status"]);
    assert.equal(down.code, 3, `status after kill -9 must say not running:\n${down.out}`);
    const again = valence(["start", "--port", port]);
    assert.equal(again.code, 0, `start ${pause} ms after kill -9 must succeed:\n${again.out}`);
    const up = valence(["status"]);
    assert.equal(up.code, 0, up.out);
    assert.match(up.out, new RegExp(`running at http://127\\.0\\.0\\.1:${port} \\(pid ${serverPid()},`));
    assert.notEqual(serverPid(), old);
  }

  const result = await getResult(id, { wait: true });
  assert.equal(result.status, "COMPLETED", result.error?.message);
  assert.equal(result.result, STEPS);
  assert.ok(result.nodes.every((n) => n.status === "COMPLETED"), "no node is left RUNNING");
  const lines = readFileSync(file, "utf8").trim().split("\n");
  for (let s = 0; s < STEPS; s++) assert.ok(lines.includes(`s${s}`), `step s${s} never ran`);
  assert.ok(lines.length <= STEPS + pauses.length, `${lines.length} runs of ${STEPS} steps after ${pauses.length} kills: completed steps ran again`);
  t.diagnostic(`${lines.length - STEPS} re-runs after ${pauses.length} kills`);

  const stopped = valence(["stop"]);
  assert.equal(stopped.code, 0, stopped.out);
  assert.deepEqual(await settled(dataDir), [], "processes left behind after `valence stop`");
  assert.equal(valence(["status"]).code, 3);
});

it("a retry waiting out its backoff keeps its schedule across kill -9 of the server: the next try runs when it was due, counting on", { timeout: 120_000 }, async () => {
  const port = String(await portOnce);
  const started = valence(["start", "--port", port]);
  assert.equal(started.code, 0, started.out);
  process.env.VALENCE_SERVER = `http://127.0.0.1:${port}`;
  const { dispatch, getResult } = await import("../src/index.js");
  const { slowRetryFlow, triesIn } = await import("./fixtures/retry-workflows.js");
  const file = join(root, "retry-tries.log");
  const id = await dispatch(slowRetryFlow)(file);
  let retryAt: Date | undefined;
  while (!retryAt) {
    retryAt = (await getResult(id)).nodes[0]?.retryAt;
    if (!retryAt) await sleep(25);
  }
  const [first] = triesIn(file);
  assert.ok(first && retryAt.getTime() >= first.at + 3000, "due sooner than its 3 s backoff");
  process.kill(serverPid(), "SIGKILL");
  const again = valence(["start", "--port", port]);
  assert.equal(again.code, 0, again.out);
  const result = await getResult(id, { wait: true });
  assert.equal(result.status, "COMPLETED", result.error?.message);
  assert.equal(result.result, 2);
  assert.equal(result.nodes[0]?.attempts, 2, "the resumed dispatch started counting its tries again");
  assert.equal(result.nodes[0]?.retryAt, undefined);
  const tries = triesIn(file);
  assert.deepEqual(tries.map((t) => t.n), [1, 2], "the failed try ran again, or the retry never ran");
  assert.ok((tries[1] as { at: number }).at >= retryAt.getTime(), "the retry ran before it was due");
  assert.equal(valence(["stop"]).code, 0);
  assert.deepEqual(await settled(dataDir), []);
});

it("stops gracefully mid-dispatch (valence stop): no runner or worker is left, and the next start resumes it", { timeout: 120_000 }, async () => {
  const port = String(await portOnce);
  const started = valence(["start", "--port", port]);
  assert.equal(started.code, 0, started.out);
  process.env.VALENCE_SERVER = `http://127.0.0.1:${port}`;
  const { dispatch, getResult } = await import("../src/index.js");
  const { appendChain, fanOut } = await import("./fixtures/server-workflows.js");
  const file = join(root, "stop-steps.log");
  const id = await dispatch(appendChain)(file, 10, 150);
  // Local workers too: a fan-out on the pool, done before the stop.
  const wide = await dispatch(fanOut)(20);
  assert.equal((await getResult(wide, { wait: true })).status, "COMPLETED");
  while (!existsSync(file) || readFileSync(file, "utf8").trim().split("\n").length < 3) await sleep(20);
  const stopped = valence(["stop"]);
  assert.equal(stopped.code, 0, stopped.out);
  assert.match(stopped.out, /Valence server stopped/);
  assert.deepEqual(await settled(dataDir), [], "processes left behind after `valence stop`");
  assert.equal(valence(["status"]).code, 3);
  const again = valence(["start", "--port", port]);
  assert.equal(again.code, 0, again.out);
  const result = await getResult(id, { wait: true });
  assert.equal(result.status, "COMPLETED", result.error?.message);
  assert.equal(result.result, 10);
  assert.equal(valence(["stop"]).code, 0);
  assert.deepEqual(await settled(dataDir), []);
});
