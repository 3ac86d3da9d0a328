// `valence-task --pilot` on this machine, without Slurm: a child process on a temp queue directory, fed inbox files.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { decode } from "../codec/index.js";
import { bundleEntry } from "../engine/bundle/bundler.js";
import { makeTaskPackage } from "../executor/remote/task-package.js";
import * as fx from "../executor/test-support/fixtures/contract-electrons.js";
import { asNodeId, type DispatchId } from "../ids.js";
import type { RegisteredElectron } from "../sdk/global-registry.js";
import type { RunnerEndedAnswer } from "./pilot.js";
import type { ResultFile } from "../executor/wire/task-file.js";
import { isRunning } from "../engine/locks/process-identity.js";

const RUNNER = fileURLToPath(new URL("../../dist/valence-task.mjs", import.meta.url));
const FIXTURE = fileURLToPath(new URL("../executor/test-support/fixtures/contract-electrons.ts", import.meta.url));
const LIMIT = { timeout: 30_000 };

let dir: string;
let bundle: string;
let nodeId = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "valence-pilot-"));
  bundle = `bundles/${basename((await bundleEntry(FIXTURE, join(dir, "bundles"))).path)}`;
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Pilot {
  readonly queue: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

function startPilot(name: string, extra: string[] = []): Pilot {
  const queue = join(dir, name);
  const child = spawn(process.execPath, [RUNNER, "--pilot", queue, "--name", "p1", ...extra], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { queue, child, exited, stderr: () => err };
}

/** Puts a task in the queue's inbox the way a dispatcher does: temp file, then rename. */
async function enqueue(queue: string, id: string, electron: RegisteredElectron, args: unknown[]): Promise<void> {
  const pkg = makeTaskPackage({
    meta: { dispatchId: "dsp_pilot0000" as DispatchId, nodeId: asNodeId(++nodeId), resultsDir: dir },
    electronId: electron.id,
    electronName: electron.name,
    fn: electron.fn,
    args,
    kwargs: {},
    bundlePath: join(dir, bundle),
    signal: new AbortController().signal,
  });
  await mkdir(join(queue, "tmp"), { recursive: true });
  await mkdir(join(queue, "inbox"), { recursive: true });
  const tmp = join(queue, "tmp", `${id}.in`);
  await writeFile(tmp, JSON.stringify({ id, bundle, task: JSON.parse(pkg.taskJson) }));
  await rename(tmp, join(queue, "inbox", `${id}.json`));
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, pilot?: Pilot): Promise<T> {
  for (let i = 0; i < 1000; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}${pilot ? `; pilot stderr:\n${pilot.stderr()}` : ""}`);
}

async function answer(pilot: Pilot, id: string): Promise<string> {
  return until(`the answer of ${id}`, () => readFile(join(pilot.queue, "outbox", `${id}.json`), "utf8").catch(() => undefined), pilot);
}

function valueOf(text: string): unknown {
  const result = JSON.parse(text) as ResultFile;
  assert.ok(result.ok, text);
  return decode(result.value);
}

/** Pids of the processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        return readFileSync(`/proc/${n}/stat`, "utf8").replace(/^.*\) /, "").split(" ")[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("valence-task --pilot", () => {
  test("runs the tasks put in its inbox, answers each in the outbox, refreshes alive, and stops on the stop file", LIMIT, async () => {
    const pilot = startPilot("basic", ["--idle", "600"]);
    await Promise.all([enqueue(pilot.queue, "a", fx.add, [1, 2]), enqueue(pilot.queue, "b", fx.echo, [{ x: [1, "y"] }])]);
    assert.equal(valueOf(await answer(pilot, "a")), 3);
    assert.deepEqual(valueOf(await answer(pilot, "b")), { x: [1, "y"] });
    // Answered tasks leave neither the inbox nor the pilot's claimed directory.
    await until("the claims to go", async () => ((await readdir(join(pilot.queue, "pilots/p1/claimed"))).length === 0 ? true : undefined), pilot);
    assert.deepEqual(await readdir(join(pilot.queue, "inbox")), []);
    const alive = JSON.parse(await readFile(join(pilot.queue, "pilots/p1/alive"), "utf8")) as { pid: number };
    assert.equal(alive.pid, pilot.child.pid);
    await writeFile(join(pilot.queue, "pilots/p1/stop"), "");
    assert.equal(await pilot.exited, 0);
    assert.match(pilot.stderr(), /closing \(asked to stop\)/);
  });

  test("a task that ends its runner gets a runnerEnded answer with the exit code; the next task still runs", LIMIT, async () => {
    const pilot = startPilot("exit", ["--idle", "600"]);
    await enqueue(pilot.queue, "x", fx.exitProcess, [7]);
    const ended = JSON.parse(await answer(pilot, "x")) as RunnerEndedAnswer;
    assert.equal(ended.runnerEnded.exitCode, 7);
    assert.equal(ended.runnerEnded.pilot, "p1");
    assert.match(ended.runnerEnded.reason, /the task runner ended \(exit code 7\)/);
    await enqueue(pilot.queue, "y", fx.add, [2, 2]);
    assert.equal(valueOf(await answer(pilot, "y")), 4);
    await writeFile(join(pilot.queue, "stop"), "");
    assert.equal(await pilot.exited, 0);
  });

  test("a cancel file kills the task's runner (its pid is gone) and the pilot keeps serving", LIMIT, async () => {
    const pilot = startPilot("cancel", ["--idle", "600"]);
    await enqueue(pilot.queue, "long", fx.sleep, [60_000]);
    await until("the task to be claimed", () => (existsSync(join(pilot.queue, "pilots/p1/claimed/long.json")) ? true : undefined), pilot);
    const [runner] = await until("the runner process", () => {
      const kids = childrenOf(pilot.child.pid as number);
      return kids.length > 0 ? kids : undefined;
    }, pilot);
    assert.ok(runner && isRunning({ pid: runner, startTicks: undefined }));
    await writeFile(join(pilot.queue, "cancel", "long"), "");
    const ended = JSON.parse(await answer(pilot, "long")) as RunnerEndedAnswer;
    assert.match(ended.runnerEnded.reason, /killed by SIGKILL/);
    await until("the runner to be gone", () => (isRunning({ pid: runner, startTicks: undefined }) ? undefined : true), pilot);
    assert.equal(existsSync(join(pilot.queue, "cancel", "long")), false, "the cancel file is removed with the answer");
    await enqueue(pilot.queue, "after", fx.add, [5, 5]);
    assert.equal(valueOf(await answer(pilot, "after")), 10);
    await writeFile(join(pilot.queue, "stop"), "");
    assert.equal(await pilot.exited, 0);
  });

  test("it exits by itself once idle for --idle seconds", LIMIT, async () => {
    const pilot = startPilot("idle", ["--idle", "1"]);
    await enqueue(pilot.queue, "one", fx.add, [1, 1]);
    assert.equal(valueOf(await answer(pilot, "one")), 2);
    assert.equal(await pilot.exited, 0);
    assert.match(pilot.stderr(), /closing \(idle for 1 s\)/);
  });

  test("with --slots 2 two tasks run at once; a bad inbox entry is answered, not fatal", LIMIT, async () => {
    const pilot = startPilot("slots", ["--idle", "600", "--slots", "2"]);
    await enqueue(pilot.queue, "s1", fx.sleep, [60_000]);
    await enqueue(pilot.queue, "s2", fx.sleep, [60_000]);
    const claimed = join(pilot.queue, "pilots/p1/claimed");
    await until("both claimed", () => (existsSync(claimed) && readdirSync(claimed).length === 2 ? true : undefined), pilot);
    await writeFile(join(pilot.queue, "cancel", "s1"), "");
    await writeFile(join(pilot.queue, "cancel", "s2"), "");
    await answer(pilot, "s1");
    await answer(pilot, "s2");
    await writeFile(join(pilot.queue, "tmp", "bad.in"), JSON.stringify({ id: "bad" }));
    await rename(join(pilot.queue, "tmp", "bad.in"), join(pilot.queue, "inbox", "bad.json"));
    const bad = JSON.parse(await answer(pilot, "bad")) as RunnerEndedAnswer;
    assert.match(bad.runnerEnded.reason, /could not run inbox entry bad: "bundle" must be a string/);
    await writeFile(join(pilot.queue, "stop"), "");
    assert.equal(await pilot.exited, 0);
  });

  test("bad arguments exit 2 with the usage", () => {
    const r = spawnSync(process.execPath, [RUNNER, "--pilot"], { encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--pilot needs a queue directory/);
    const slots = spawnSync(process.execPath, [RUNNER, "--pilot", dir, "--slots", "0"], { encoding: "utf8" });
    assert.equal(slots.status, 2);
    assert.match(slots.stderr, /bad argument "--slots" "0"/);
  });
});
