// Server mode end to end: a real server (HTTP, runners as child processes) on loopback, and the
// SDK's dispatch / getResult / cancel going through it.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ServerClient, type ServerEvent } from "../src/client/server-client.js";
import { startServer, type RunningServer } from "../src/server/server.js";
import type { TaskOutput } from "../src/engine/task-output.js";

let server: RunningServer;
let client: ServerClient;
const serverDir = join(dataDir, "server");
const timingLog = join(dataDir, "cpu_timing.log");

before(async () => {
  server = await startServer({ dataDir: serverDir, port: 0, log: () => undefined });
  // The SDK in this process is a client of that server; its own data dir only holds bundles.
  process.env.VALENCE_SERVER = server.info.url;
  process.env.VALENCE_TEST_TIMING_LOG = timingLog;
  client = new ServerClient(server.info.url);
});
after(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const sdk = () => import("../src/index.js");
const flows = () => import("./fixtures/server-workflows.js");

describe("dispatching to a server", () => {
  it("runs the TimingExecutor example: the user's own executor, in a runner, with its log where the user asked", async () => {
    const { dispatch, getResult } = await sdk();
    const { timingWorkflow } = await flows();
    const id = await dispatch(timingWorkflow)(3, 4);
    const result = await getResult(id, { wait: true });
    assert.equal(result.status, "COMPLETED");
    assert.equal(result.result, 28);
    assert.match(result.toString(), /add\(0\): 7\n:parameter:3\(1\): 3\n:parameter:4\(2\): 4\nmultiply\(3\): 28\n:parameter:4\(4\): 4/);
    assert.ok(result.resultsDir.startsWith(serverDir), "results live in the server's data dir");
    const log = readFileSync(timingLog, "utf8");
    assert.match(log, new RegExp(`Node 0 in dispatch ${id} took [0-9.e-]+s of CPU time`));
    assert.match(log, new RegExp(`Node 3 in dispatch ${id} took`));
    // The electrons' source text is kept for people to read (the dashboard).
    const { SqliteStore } = await import("../src/engine/store/sqlite-store.js");
    const store = new SqliteStore(serverDir);
    assert.deepEqual(Object.values((await store.getSources(id))).sort(), [
      "export const add = electron((x: number, y: number) => x + y, { executor: timing });",
      "export const multiply = electron((x: number, y: number) => x * y, { executor: timing });",
    ]);
    await store.close();
  });

  it("runs the next dispatch of the same code in the runner that ran the last, warm; a runner killed while idle is replaced", async () => {
    const { dispatch, getResult } = await sdk();
    const { fanOut } = await flows();
    const { SqliteStore } = await import("../src/engine/store/sqlite-store.js");
    const store = new SqliteStore(serverDir);
    try {
      const owners: number[] = [];
      for (let i = 0; i < 3; i++) {
        const id = await dispatch(fanOut)(3);
        assert.equal((await getResult(id, { wait: true })).status, "COMPLETED");
        owners.push((await store.getDispatch(id))?.ownerPid as number);
      }
      assert.equal(new Set(owners).size, 1, `one runner ran all three: ${owners.join(", ")}`);
      // Idle, it waits; killed, the next dispatch gets another runner and completes.
      const idle = owners[0] as number;
      for (let i = 0; i < 100 && !server.supervisor.isIdle(idle); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(server.supervisor.isIdle(idle), "the runner went idle after its dispatch");
      process.kill(idle, "SIGKILL");
      for (let i = 0; i < 100 && server.supervisor.isIdle(idle); i++) await new Promise((r) => setTimeout(r, 20));
      const id = await dispatch(fanOut)(4);
      const result = await getResult(id, { wait: true });
      assert.equal(result.status, "COMPLETED");
      assert.notEqual((await store.getDispatch(id))?.ownerPid, idle);
    } finally {
      await store.close();
    }
  });

  it("lets the client exit once it has the id; relative paths resolve where the client ran", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "valence-client-"));
    const env: NodeJS.ProcessEnv = { ...process.env, VALENCE_TEST_TIMING_LOG: "" };
    delete env.VALENCE_TEST_TIMING_LOG;
    // tsx by its full URL: the working directory is elsewhere, where "tsx" would not resolve.
    const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), fileURLToPath(new URL("./fixtures/dispatch-to-server.ts", import.meta.url))], {
      cwd,
      env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => (out += d));
    const [code] = (await once(child, "exit")) as [number];
    assert.equal(code, 0);
    const id = out.trim();
    assert.match(id, /^dsp_/);
    const { getResult } = await sdk();
    const result = await getResult(id, { wait: true });
    assert.equal(result.status, "COMPLETED", result.error?.message);
    assert.equal(result.result, 28);
    assert.match(readFileSync(join(cwd, "cpu_timing.log"), "utf8"), new RegExp(`Node 3 in dispatch ${id}`));
    rmSync(cwd, { recursive: true, force: true });
  });

  it("runs a fan-out/fan-in on the local pool and inline, and lists it", async () => {
    const { dispatch, getResult } = await sdk();
    const { fanOut } = await flows();
    const id = await dispatch(fanOut)(20);
    const result = await getResult(id, { wait: true });
    assert.deepEqual(result.result, Array.from({ length: 20 }, (_, i) => i + 2));
    const listed = await client.list(10);
    assert.ok(listed.dispatches.some((d) => d.id === id && d.status === "COMPLETED" && d.nodesDone === d.nodeCount));
  });

  it("a warm dispatch sends no bundle check; a server that lost the bundle gets it again and runs the dispatch", async () => {
    const { dispatch, getResult } = await sdk();
    const { fanOut } = await flows();
    const first = await getResult(await dispatch(fanOut)(2), { wait: true });
    assert.equal(first.status, "COMPLETED");
    assert.ok(readdirSync(join(serverDir, "bundles")).some((f) => f.endsWith(".mjs")), "the first dispatch uploaded its bundle");
    const requests: string[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
      requests.push(`${init?.method ?? "GET"} ${new URL(String(input)).pathname}`);
      return realFetch(input, init);
    }) as typeof fetch;
    try {
      const warm = await getResult(await dispatch(fanOut)(3), { wait: true });
      assert.deepEqual(warm.result, [2, 3, 4]);
      assert.deepEqual(requests.filter((r) => r.includes("/bundles/")), [], "the process knows the server has it");
      // The server loses every bundle (cleaned by hand, say): the next dispatch is refused once, uploads, and runs.
      for (const f of readdirSync(join(serverDir, "bundles"))) rmSync(join(serverDir, "bundles", f), { force: true });
      requests.length = 0;
      const again = await getResult(await dispatch(fanOut)(4), { wait: true });
      assert.deepEqual(again.result, [2, 3, 4, 5]);
      assert.deepEqual(requests.filter((r) => r.startsWith("POST /api/v1/dispatches") || r.includes("/bundles/")).map((r) => r.replace(/[0-9a-f]{64}/, "HASH")), [
        "POST /api/v1/dispatches",
        "HEAD /api/v1/bundles/HASH",
        "PUT /api/v1/bundles/HASH",
        "POST /api/v1/dispatches",
      ]);
    } finally {
      globalThis.fetch = realFetch;
    }
  });

  it("streams live events: a snapshot, each change, then the end", async () => {
    const { dispatch } = await sdk();
    const { slowFlow } = await flows();
    const id = await dispatch(slowFlow)(300);
    const events: ServerEvent[] = [];
    await client.events(id, (e) => events.push(e));
    assert.equal(events[0]?.event, "snapshot");
    assert.equal(events.at(-1)?.event, "end");
    const statuses = events
      .filter((e) => e.event === "change")
      .flatMap((e) => {
        const c = e.data as { nodes: Array<{ node: number; status: string }>; status?: string };
        return [...c.nodes.map((n) => `${n.node}:${n.status}`), ...(c.status ? [`dispatch:${c.status}`] : [])];
      });
    assert.ok(statuses.includes("dispatch:COMPLETED"), statuses.join(" "));
    assert.ok(statuses.includes("0:COMPLETED"), statuses.join(" "));
  });

  it("cancels a running dispatch: the task is stopped, the dispatch CANCELLED, and the server says so", async () => {
    const { cancel, dispatch, getResult } = await sdk();
    const { slowFlow } = await flows();
    const id = await dispatch(slowFlow)(60_000);
    // Wait until the task runs, so this cancels a running task, not a pending one.
    await new Promise<void>((resolve, reject) => {
      const ac = new AbortController();
      client
        .events(
          id,
          (e) => {
            const nodes = e.event === "snapshot" ? (e.data as { nodes: Array<{ status: string }> }).nodes : e.event === "change" ? (e.data as { nodes: Array<{ status: string }> }).nodes : [];
            if (nodes.some((n) => n.status === "RUNNING")) {
              ac.abort();
              resolve();
            }
          },
          ac.signal,
        )
        .catch((error: Error) => (error.name === "AbortError" ? resolve() : reject(error)));
    });
    await cancel(id);
    const result = await getResult(id, { wait: true });
    assert.equal(result.status, "CANCELLED");
    assert.equal(result.nodes[0]?.status, "CANCELLED");
  });

  it("fails the tasks that take their runner down, names the exit, and keeps serving", async () => {
    const { dispatch, getResult } = await sdk();
    const { crashFlow } = await flows();
    const id = await dispatch(crashFlow)();
    const result = await getResult(id, { wait: true });
    assert.equal(result.status, "FAILED");
    const crashed = result.nodes.find((n) => n.name === "crashes");
    assert.equal(crashed?.status, "FAILED");
    assert.equal(crashed?.error?.name, "RunnerCrashedError");
    assert.match(crashed?.error?.message ?? "", /the dispatch runner exited with code 3 while task "crashes\(0\)" ran/);
    assert.equal((await client.health()).ok, true);
  });

  it("runs a task again when its runner is killed from outside (kill -9), until it was in 3 killed runners", { timeout: 60_000 }, async () => {
    const { dispatch, getResult } = await sdk();
    const { appendChain, slowFlow } = await flows();
    const { SqliteStore } = await import("../src/engine/store/sqlite-store.js");
    const store = new SqliteStore(serverDir);
    const { setTimeout: sleep } = await import("node:timers/promises");
    /** The runner that owns `id` once a task runs in it (not `not`, the one just killed). */
    const runnerOf = async (id: string, not?: number) => {
      for (let i = 0; i < 1000; i++) {
        const d = await store.getDispatch(id as never);
        if (d?.ownerPid && d.ownerPid !== not && (await store.getNodes(id as never)).some((n) => n.status === "RUNNING")) return d.ownerPid;
        await sleep(10);
      }
      throw new Error(`no runner ran a task of ${id}`);
    };
    try {
      const file = join(dataDir, "killed-runner.log");
      const id = await dispatch(appendChain)(file, 6, 150);
      while (!existsSync(file) || readFileSync(file, "utf8").split("\n").length < 3) await sleep(10);
      const pid = await runnerOf(id);
      process.kill(pid, "SIGKILL");
      const result = await getResult(id, { wait: true });
      assert.equal(result.status, "COMPLETED", result.error?.message);
      assert.equal(result.result, 6);
      const lines = readFileSync(file, "utf8").trim().split("\n");
      assert.ok(lines.length <= 7, `${lines.length} runs of 6 steps after one kill`);

      const doomed = await dispatch(slowFlow)(60_000);
      let last: number | undefined;
      for (let k = 0; k < 3; k++) {
        last = await runnerOf(doomed, last);
        process.kill(last, "SIGKILL");
      }
      const end = await getResult(doomed, { wait: true });
      assert.equal(end.status, "FAILED");
      const node = end.nodes.find((n) => n.name === "sleepy");
      assert.equal(node?.error?.name, "RunnerCrashedError");
      assert.match(node?.error?.message ?? "", /was killed by SIGKILL while task "sleepy\(\d\)" ran \(it was running in each of the 3 runners killed so far/);
    } finally {
      await store.close();
    }
  });

  it("redispatches on the server: the replacement's code comes in its own bundle, the rest is reused", async () => {
    const { dispatch, getResult, redispatch } = await sdk();
    const { timingWorkflow } = await flows();
    const { addTwice } = await import("./fixtures/server-replacements.js");
    const first = await dispatch(timingWorkflow)(3, 4);
    assert.equal((await getResult(first, { wait: true })).result, 28);
    const again = await redispatch(first, { reusePreviousResults: true, replaceElectrons: { add: addTwice } });
    const result = await getResult(again, { wait: true });
    assert.equal(result.status, "COMPLETED", result.error?.message);
    assert.equal(result.result, 56);
    assert.deepEqual(result.nodes.map((n) => `${n.name}=${String(n.output)}`), ["add=14", ":parameter:3=3", ":parameter:4=4", "multiply=56", ":parameter:4=4"]);
    const reused = await getResult(await redispatch(again, { reusePreviousResults: true }), { wait: true });
    assert.equal(reused.result, 56);
    assert.deepEqual(reused.nodes.map((n) => n.startTime?.getTime()), result.nodes.map((n) => n.startTime?.getTime()), "reused nodes keep their times");
  });

  it("enforces the timeout of a task that blocks its runner's event loop; the task beside it completes", async () => {
    const { dispatch, getResult } = await sdk();
    const { blockFlow } = await flows();
    const result = await getResult(await dispatch(blockFlow)(), { wait: true });
    assert.equal(result.status, "FAILED");
    const [blocked, fine] = result.nodes;
    assert.equal(blocked?.error?.name, "TaskTimeoutError");
    assert.match(blocked?.error?.message ?? "", /timed out after 300 ms .*it blocked its runner's event loop, so the runner was stopped/);
    assert.equal(fine?.status, "COMPLETED");
    assert.equal(fine?.output, "fine");
  });

  it("sends a large argument as a streamed upload, once, not inside the JSON", async () => {
    const { dispatch, getResult } = await sdk();
    const { sizeFlow } = await flows();
    const big = "x".repeat(1_000_000);
    const first = await getResult(await dispatch(sizeFlow)(big), { wait: true });
    assert.equal(first.result, 1_000_000);
    const { readdirSync } = await import("node:fs");
    const blobs = readdirSync(join(serverDir, "blobs"));
    assert.equal(blobs.length, 2, "the arguments and the parameter node's value, once each");
    await getResult(await dispatch(sizeFlow)(big), { wait: true });
    assert.equal(readdirSync(join(serverDir, "blobs")).length, 2, "the same value is not stored twice");
  });

  it("runs a sublattice in the runner, its electrons named as in the user's file", async () => {
    const { dispatch, getResult } = await sdk();
    const { outer } = await flows();
    const id = await dispatch(outer)(5);
    const result = await getResult(id, { wait: true });
    assert.equal(result.result, 15);
    const { SqliteStore } = await import("../src/engine/store/sqlite-store.js");
    const store = new SqliteStore(serverDir);
    const [child] = await store.childDispatches(id);
    assert.ok(child, "the sublattice ran as a child dispatch");
    assert.deepEqual((await store.getNodes(child.id)).map((n) => n.name), ["triple", ":parameter:5"]);
    await store.close();
  });

  it("runs 50 dispatches at once, each to its own right result", async () => {
    const { dispatch, getResult } = await sdk();
    const { fanOut } = await flows();
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => dispatch(fanOut)(i + 1)));
    const results = await Promise.all(ids.map((id) => getResult(id, { wait: true })));
    results.forEach((r, i) => {
      assert.equal(r.status, "COMPLETED", `dispatch ${i}: ${r.error?.message}`);
      assert.deepEqual(r.result, Array.from({ length: i + 1 }, (_, k) => k + 2));
    });
  });

  it("refuses a bad argument at dispatch, in the client, before anything is sent", async () => {
    const { dispatch } = await sdk();
    const { fanOut } = await flows();
    const before = (await client.list(1000)).dispatches.length;
    await assert.rejects(dispatch(fanOut)((() => 1) as unknown as number), { name: "UnsendableValueError" });
    assert.equal((await client.list(1000)).dispatches.length, before);
  });

  it("says clearly when the configured server does not answer", async () => {
    const { ServerDispatcher } = await import("../src/client/server-dispatcher.js");
    const { loadConfig } = await import("../src/engine/config/index.js");
    const { createRegistry } = await import("../src/engine/plugins/registry.js");
    const { BUILTIN_EXECUTORS } = await import("../src/engine/engine.js");
    const config = loadConfig();
    const gone = new ServerDispatcher(new ServerClient("http://127.0.0.1:9"), config, await createRegistry({ config, builtins: BUILTIN_EXECUTORS }));
    await assert.rejects(gone.getResult("dsp_0000000000000000" as never), {
      name: "ServerUnreachableError",
      message: /no Valence server answers at http:\/\/127\.0\.0\.1:9 .*valence start.*VALENCE_SERVER=embedded/,
    });
    assert.ok(existsSync(serverDir));
  });
});

describe("a running task's output through the server (GET /dispatches/:id/nodes/:node/output)", () => {
  const live = () => import("./fixtures/live-workflows.js");
  let gates = 0;
  const newGate = () => join(dataDir, `output-gate-${gates++}`);
  /** GET under /api/v1: the status and the JSON body. */
  const get = async (path: string) => {
    const res = await fetch(`${server.info.url}/api/v1${path}`);
    return { status: res.status, body: (await res.json()) as TaskOutput & { error?: { code: string; message: string } } };
  };
  /** Asks with `after` = the last `next` until the task has printed its three lines (at most 30 s), gathering the chunks. */
  const readWhileRunning = async (id: string) => {
    const text = { stdout: "", stderr: "" };
    let after = 0;
    for (let i = 0; ; i++) {
      const { status, body } = await get(`/dispatches/${id}/nodes/0/output?after=${after}`);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.ended, false, `the task ended before its gate was opened: ${JSON.stringify(body)}`);
      for (const c of body.chunks) text[c.stream] += c.text;
      after = body.next;
      if (text.stdout.includes("line 2") && text.stderr.includes("warn 1")) return { last: body, text };
      assert.ok(i < 600, `the output never got there: ${JSON.stringify(text)} (status ${body.status})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  for (const [executor, flowName] of [["inline", "inlineFlow"], ["local", "localFlow"]] as const) {
    it(`returns what a task on ${executor} printed while it runs (before its gate file exists), then its whole output once it ends`, async () => {
      const { dispatch, getResult } = await sdk();
      const flow = (await live())[flowName];
      const gate = newGate();
      const id = await dispatch(flow)(gate);
      const { last, text } = await readWhileRunning(id);
      assert.equal(existsSync(gate), false);
      assert.deepEqual([last.dispatchId, last.node, last.status, last.stdout, last.stderr], [id, 0, "RUNNING", null, null]);
      assert.deepEqual(text, { stdout: "line 1\nline 2\n", stderr: "warn 1\n" });
      // Nothing new after the last chunk while the task waits; from the start, the same chunks again.
      const newer = await get(`/dispatches/${id}/nodes/0/output?after=${last.next}`);
      assert.deepEqual([newer.status, newer.body.chunks, newer.body.next], [200, [], last.next]);
      const all = (await get(`/dispatches/${id}/nodes/0/output`)).body;
      assert.deepEqual(
        { stdout: all.chunks.filter((c) => c.stream === "stdout").map((c) => c.text).join(""), stderr: all.chunks.filter((c) => c.stream === "stderr").map((c) => c.text).join("") },
        text,
      );
      writeFileSync(gate, "");
      const result = await getResult(id, { wait: true });
      assert.equal(result.status, "COMPLETED", result.error?.message);
      assert.equal(result.result, 7);
      const end = await get(`/dispatches/${id}/nodes/0/output?after=${last.next}`);
      assert.equal(end.status, 200);
      assert.deepEqual(
        [end.body.ended, end.body.status, end.body.stdout, end.body.stderr, end.body.chunks],
        [true, "COMPLETED", "line 1\nline 2\nafter gate\n", "warn 1\n", []],
      );
    });
  }

  it("answers 404 NODE_NOT_FOUND for a node the dispatch does not have, 400 for a bad after or node, 404 for an unknown dispatch", async () => {
    const { dispatch, getResult } = await sdk();
    const { inlineFlow } = await live();
    const gate = newGate();
    writeFileSync(gate, "");
    const id = await dispatch(inlineFlow)(gate);
    assert.equal((await getResult(id, { wait: true })).status, "COMPLETED");
    const beyond = await get(`/dispatches/${id}/nodes/2/output`);
    assert.equal(beyond.status, 404);
    assert.equal(beyond.body.error?.code, "NODE_NOT_FOUND");
    assert.equal(beyond.body.error?.message, `dispatch ${id} has nodes 0 to 1; no such node: 2`);
    const badAfter = await get(`/dispatches/${id}/nodes/0/output?after=abc`);
    assert.equal(badAfter.status, 400);
    assert.equal(badAfter.body.error?.code, "BAD_REQUEST");
    assert.match(badAfter.body.error?.message ?? "", /^after: must be a whole number/);
    const negative = await get(`/dispatches/${id}/nodes/0/output?after=-1`);
    assert.deepEqual([negative.status, negative.body.error?.code], [400, "BAD_REQUEST"]);
    const badNode = await get(`/dispatches/${id}/nodes/first/output`);
    assert.equal(badNode.status, 400);
    assert.match(badNode.body.error?.message ?? "", /the node id in the path: must be a whole number/);
    const unknown = await get("/dispatches/dsp_nosuchdispatch0/nodes/0/output");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error?.code, "DISPATCH_NOT_FOUND");
    const notAnId = await get("/dispatches/nope/nodes/0/output");
    assert.deepEqual([notAnId.status, notAnId.body.error?.code], [404, "NOT_FOUND"]);
    // The node that is there still answers.
    const ok = await get(`/dispatches/${id}/nodes/0/output`);
    assert.deepEqual([ok.status, ok.body.ended, ok.body.stdout], [200, true, "line 1\nline 2\nafter gate\n"]);
  });
});
