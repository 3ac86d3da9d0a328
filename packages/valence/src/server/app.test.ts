/**
 * The HTTP API against a real server on a free loopback port, over real HTTP:
 * every bad input gets its status, a stable error code and a message that
 * names the problem, and the server keeps answering afterwards.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { API_PREFIX } from "../api/wire.js";
import { ServerClient } from "../client/server-client.js";
import { encode } from "../codec/index.js";
import { EventHub } from "./event-hub.js";
import { startServer, type RunningServer, type ServerOptions } from "./server.js";
import { paramNode, validSubmit } from "./test-support/submissions.js";

// A token from the environment would turn every loopback test into a 401.
delete process.env["VALENCE_TOKEN"];

interface Harness {
  readonly server: RunningServer;
  /** The temp dir that holds the data dir (the data dir itself when one was given). */
  readonly root: string;
  readonly dataDir: string;
  readonly base: string;
  readonly lines: string[];
  stop(): Promise<void>;
}

/**
 * Starts a server on a free loopback port. By default its data dir sits alone
 * inside a fresh temp dir (`root`), so a write that escapes it is still seen.
 */
async function start(opts: Partial<ServerOptions> = {}, given?: string): Promise<Harness> {
  const root = given ?? mkdtempSync(join(tmpdir(), "valence-app-"));
  const dataDir = given ?? join(root, "data");
  mkdirSync(dataDir, { recursive: true });
  const lines: string[] = [];
  const server = await startServer({ dataDir, host: "127.0.0.1", port: 0, log: (l) => lines.push(l), ...opts });
  return {
    server,
    root,
    dataDir,
    // A server bound to every interface still answers on loopback.
    base: `http://127.0.0.1:${server.info.port}${API_PREFIX}`,
    lines,
    async stop() {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

interface Reply {
  readonly status: number;
  readonly body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

async function call(url: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: Reply["body"];
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    assert.fail(`${init.method ?? "GET"} ${url} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, body };
}

const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  call(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });

/** Asserts a typed error reply whose message mentions every one of `words`. */
function assertError(r: Reply, status: number, code: string, ...words: string[]): void {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
  assert.ok(r.body.error, `expected { error } in ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error.code, code, r.body.error.message);
  for (const w of words) assert.ok(r.body.error.message.toLowerCase().includes(w.toLowerCase()), `message should mention "${w}": ${r.body.error.message}`);
}

async function assertHealthy(h: Harness, headers: Record<string, string> = {}): Promise<void> {
  const r = await call(`${h.base}/health`, { headers });
  assert.equal(r.status, 200);
  assert.equal(r.body["ok"], true);
}

/** A request whose path reaches the server byte for byte (fetch would resolve `..`). */
function rawRequest(port: number, method: string, path: string, body?: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: body ? { "content-length": String(body.length) } : {} }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function parseSse(text: string): Array<{ event: string; data: unknown }> {
  return text
    .split("\n\n")
    .map((block) => block.split("\n").filter((l) => l && !l.startsWith(":")))
    .filter((lines) => lines.length)
    .map((lines) => ({
      event: lines.find((l) => l.startsWith("event:"))?.slice(6).trim() ?? "message",
      data: JSON.parse(lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n")),
    }));
}

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** Everything under `dir`, as paths relative to it. */
function listTree(dir: string, prefix = ""): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? [`${prefix}${e.name}/`, ...listTree(join(dir, e.name), `${prefix}${e.name}/`)] : [`${prefix}${e.name}`],
  );
}


function electronNode(nodeId: number, overrides: Record<string, unknown> = {}) {
  return { ...paramNode(nodeId), kind: "electron", name: `e${nodeId}`, electronId: "wf.ts#e", executor: '"inline"', output: null, ...overrides };
}

const edge = (source: number, target: number) => ({ source, target, param: JSON.stringify({ kind: "arg", index: 0 }) });


/** Asks for the result with `?wait=true` until the dispatch has ended; returns its status. */
async function waitForEnd(h: Harness, id: string): Promise<string> {
  for (let i = 0; i < 40; i++) {
    const r = await call(`${h.base}/dispatches/${id}/result?wait=true&statusOnly=true`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const status = (r.body["dispatch"] as { status: string }).status;
    if (["COMPLETED", "FAILED", "CANCELLED"].includes(status)) return status;
  }
  assert.fail(`dispatch ${id} did not end`);
}

/** Submits the one-parameter graph and waits until it has COMPLETED. */
async function finishedDispatch(h: Harness): Promise<string> {
  const r = await postJson(`${h.base}/dispatches`, validSubmit());
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const id = r.body["dispatchId"] as string;
  assert.equal(await waitForEnd(h, id), "COMPLETED");
  return id;
}

/**
 * A bundle that defines electron `wf.ts#e` as a task that sleeps for a minute,
 * registered straight into the process-global registry (no SDK needed): a
 * dispatch of it stays RUNNING until it is cancelled.
 */
const SLOW_BUNDLE = Buffer.from(`
const reg = globalThis[Symbol.for("valence.global-registry.v1")];
const entry = { id: "wf.ts#e", name: "e", fn: () => new Promise((resolve) => setTimeout(() => resolve(1), 60_000)) };
reg.electrons.set(entry.id, entry);
for (const w of reg.waiters.get(entry.id) ?? []) w(entry);
reg.waiters.delete(entry.id);
`);

/** A PUT of `declared` bytes to /bundles/:hash that sends only `sent` of them, then drops the connection. */
function abandonUpload(port: number, hash: string, framing: "chunked" | "content-length", sent: Buffer, declared: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = framing === "chunked" ? { "transfer-encoding": "chunked" } : { "content-length": String(declared) };
    const req = request({ host: "127.0.0.1", port, method: "PUT", path: `${API_PREFIX}/bundles/${hash}`, headers });
    req.on("response", (res) => reject(new Error(`the server answered ${res.statusCode} to an unfinished upload`)));
    req.on("error", () => {}); // the destroy below
    req.flushHeaders();
    req.write(sent, () => {
      // Let the server start streaming to its temporary file before the client vanishes.
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 150);
    });
  });
}

/** Counts the event-hub subscriptions made from now on that are still subscribed. */
function spySubscriptions(): { count(): number; restore(): void } {
  const original = EventHub.prototype.subscribe;
  let live = 0;
  EventHub.prototype.subscribe = function (this: EventHub, ...args: Parameters<EventHub["subscribe"]>) {
    const unsubscribe = original.apply(this, args);
    live++;
    let done = false;
    return () => {
      if (!done) live--;
      done = true;
      unsubscribe();
    };
  };
  return { count: () => live, restore: () => void (EventHub.prototype.subscribe = original) };
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("HTTP API: bad input", () => {
  let h: Harness;
  before(async () => {
    h = await start({ limits: { longPollMs: 1500 } });
  });
  after(async () => {
    await h.stop();
  });

  it("answers GET /health with the server's facts", async () => {
    const r = await call(`${h.base}/health`);
    assert.equal(r.status, 200);
    assert.equal(r.body["ok"], true);
    assert.equal(r.body["pid"], process.pid);
    assert.equal(r.body["dataDir"], h.dataDir);
    assert.equal(typeof r.body["version"], "string");
  });

  it("accepts a minimal valid submit (201) and then knows the dispatch", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit());
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body["dispatchId"] as string;
    assert.match(id, /^dsp_[0-9a-z]+$/);
    const got = await call(`${h.base}/dispatches/${id}`);
    assert.equal(got.status, 200);
    assert.equal(got.body["id"], id);
    assert.equal(got.body["name"], "tiny");
    assert.equal(got.body["nodeCount"], 1);
    const list = await call(`${h.base}/dispatches?limit=10`);
    assert.ok((list.body["dispatches"] as Array<{ id: string }>).some((d) => d.id === id));
    // Long polling: held until the dispatch ends (or longPollMs passes; the client asks again).
    let res = await call(`${h.base}/dispatches/${id}/result?wait=true`);
    for (let i = 0; i < 20 && !["COMPLETED", "FAILED", "CANCELLED"].includes((res.body["dispatch"] as { status: string }).status); i++) {
      res = await call(`${h.base}/dispatches/${id}/result?wait=true`);
    }
    assert.equal(res.status, 200);
    const dispatch = res.body["dispatch"] as { id: string; status: string; output: string; error: string | null };
    assert.equal(dispatch.id, id);
    assert.equal(dispatch.status, "COMPLETED", `the dispatch ended ${dispatch.status}: ${dispatch.error}`);
    assert.equal(dispatch.output, encode(1, "o"));
    assert.deepEqual((res.body["nodes"] as Array<{ output: string }>).map((n) => n.output), [encode(1, "p")]);
    const statusOnly = await call(`${h.base}/dispatches/${id}/result?statusOnly=true`);
    assert.deepEqual(statusOnly.body["nodes"], []);
    await assertHealthy(h);
  });

  it("streams a dispatch's events as SSE: snapshot, then changes, then end", async () => {
    const id = (await postJson(`${h.base}/dispatches`, validSubmit())).body["dispatchId"] as string;
    const res = await fetch(`${h.base}/dispatches/${id}/events`, { signal: AbortSignal.timeout(20_000) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    // The stream closes by itself after `end`.
    const events = parseSse(await res.text());
    assert.equal(events[0]?.event, "snapshot");
    const snapshot = events[0]?.data as { dispatchId: string; status: string; nodes: Array<{ node: number; name: string; status: string }> };
    assert.equal(snapshot.dispatchId, id);
    assert.deepEqual(snapshot.nodes, [{ node: 0, name: "p0", status: "COMPLETED" }]);
    assert.deepEqual(events.at(-1), { event: "end", data: { dispatchId: id } });
    const changes = events.slice(1, -1);
    assert.ok(changes.every((e) => e.event === "change"), JSON.stringify(events));
    assert.equal((changes.at(-1)?.data as { status?: string } | undefined)?.status ?? snapshot.status, "COMPLETED", JSON.stringify(events));
    // A stream opened after the end sends the snapshot and the end at once.
    const late = parseSse(await (await fetch(`${h.base}/dispatches/${id}/events`, { signal: AbortSignal.timeout(5000) })).text());
    assert.deepEqual(late.map((e) => e.event), ["snapshot", "end"]);
    assert.equal((late[0]?.data as { status: string }).status, "COMPLETED");
  });

  it("opens the stream of every dispatch with hello", async () => {
    const ac = new AbortController();
    const res = await fetch(`${h.base}/events`, { signal: ac.signal });
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("\n\n")) text += new TextDecoder().decode((await reader.read()).value);
    assert.deepEqual(parseSse(text)[0], { event: "hello", data: {} });
    ac.abort();
    await reader.cancel().catch(() => {});
  });

  it("answers HEAD on the event streams with their headers alone, and leaves nothing subscribed", async () => {
    const live = spySubscriptions();
    try {
      const id = await finishedDispatch(h);
      for (const path of ["/events", `/dispatches/${id}/events`]) {
        for (let i = 0; i < 5; i++) {
          const res = await fetch(`${h.base}${path}`, { method: "HEAD", signal: AbortSignal.timeout(5000) });
          assert.equal(res.status, 200);
          assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
          assert.equal(await res.text(), "");
        }
      }
      assert.equal((await fetch(`${h.base}/dispatches/dsp_000000000nothere0/events`, { method: "HEAD" })).status, 404);
      // A stream opened for HEAD is never read: it would never see its client go, and would follow every change forever.
      await until("every subscription to end", () => live.count() === 0, 2000);
    } finally {
      live.restore();
    }
    await assertHealthy(h);
  });

  it("refuses malformed JSON (400) and says so", async () => {
    const r = await postJson(`${h.base}/dispatches`, '{"name": "x",');
    assertError(r, 400, "BAD_REQUEST", "malformed JSON");
    await assertHealthy(h);
  });

  it("refuses a body that is not sent as JSON (400) and names the Content-Type", async () => {
    const r = await call(`${h.base}/dispatches`, { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify(validSubmit()) });
    assertError(r, 400, "BAD_REQUEST", "Content-Type: application/json");
    await assertHealthy(h);
  });

  it("refuses a JSON body that is not an object (400)", async () => {
    const r = await postJson(`${h.base}/dispatches`, "[1, 2]");
    assertError(r, 400, "BAD_REQUEST", "object");
    await assertHealthy(h);
  });

  it("refuses a field of the wrong type (400) and names its path", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ nodes: [paramNode(0, { nodeId: "0" })] }));
    assertError(r, 400, "BAD_REQUEST", "nodes[0].nodeId");
    await assertHealthy(h);
  });

  it("refuses a missing field (400) and names it", async () => {
    const body: Record<string, unknown> = validSubmit();
    delete body["outputTemplate"];
    const r = await postJson(`${h.base}/dispatches`, body);
    assertError(r, 400, "BAD_REQUEST", "outputTemplate");
    await assertHealthy(h);
  });

  it("refuses an unknown key at the top (400) and names it", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ surprise: 1 }));
    assertError(r, 400, "BAD_REQUEST", "surprise");
    await assertHealthy(h);
  });

  it("refuses an unknown key inside a node (400) and names the node and the key", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ nodes: [paramNode(0, { colour: "red" })] }));
    assertError(r, 400, "BAD_REQUEST", "nodes[0]", "colour");
    await assertHealthy(h);
  });

  it("refuses a node's retry or cache policy that is not one (400), naming the node and the field", async () => {
    const retry = await postJson(`${h.base}/dispatches`, validSubmit({ nodes: [paramNode(0, { retryPolicy: '{"initial":-1}' })] }));
    assertError(retry, 400, "BAD_REQUEST", "nodes[0].retryPolicy", "retry policy");
    for (const cachePolicy of ['{"code":"abc","ttl":null}', '{"code":"' + "a".repeat(64) + '","ttl":0}', "not json"]) {
      const r = await postJson(`${h.base}/dispatches`, validSubmit({ nodes: [paramNode(0, { cachePolicy })] }));
      assertError(r, 400, "BAD_REQUEST", "nodes[0].cachePolicy", "cache policy");
    }
    const ok = await postJson(`${h.base}/dispatches`, validSubmit({ nodes: [paramNode(0, { cachePolicy: JSON.stringify({ code: "a".repeat(64), ttl: 1000, version: "2" }) })] }));
    assert.equal(ok.status, 201);
  });

  it("refuses nodes numbered out of order (400)", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ nodes: [paramNode(0), paramNode(2)] }));
    assertError(r, 400, "BAD_REQUEST", "nodes[1].nodeId", "must be 1");
    await assertHealthy(h);
  });

  it("refuses a relative cwd (400)", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ cwd: "some/where" }));
    assertError(r, 400, "BAD_REQUEST", "cwd", "absolute");
    await assertHealthy(h);
  });

  it("refuses inputs that are not in the codec's encoding (400) and names the field", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ inputs: "definitely not encoded" }));
    assertError(r, 400, "BAD_REQUEST", "inputs");
    await assertHealthy(h);
  });

  it("refuses a parameter whose output does not decode (400) and names the node", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ nodes: [paramNode(0, { output: "{nope" })] }));
    assertError(r, 400, "BAD_REQUEST", "nodes[0].output");
    await assertHealthy(h);
  });

  it("refuses a graph with a cycle (400) and says it is one", async () => {
    const nodes = [paramNode(0), electronNode(1), electronNode(2)];
    const bundle = Buffer.from("export {};\n");
    const hash = sha256(bundle);
    assert.equal((await rawRequest(h.server.info.port, "PUT", `${API_PREFIX}/bundles/${hash}`, bundle)).status, 201);
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ bundleHash: hash, nodes, edges: [edge(0, 1), edge(1, 2), edge(2, 1)] }));
    assertError(r, 400, "BAD_REQUEST", "cycle");
    await assertHealthy(h);
  });

  it("refuses a self-loop as a cycle (400)", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ nodes: [paramNode(0)], edges: [edge(0, 0)] }));
    assertError(r, 400, "BAD_REQUEST", "cycle");
    await assertHealthy(h);
  });

  it("refuses an edge to a node that does not exist (400) and names it", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ nodes: [paramNode(0)], edges: [edge(0, 7)] }));
    assertError(r, 400, "BAD_REQUEST", "edges[0]", "node 7 does not exist");
    await assertHealthy(h);
  });

  it("refuses an edge whose param is not JSON (400)", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ nodes: [paramNode(0), paramNode(1)], edges: [{ source: 0, target: 1, param: "{x" }] }));
    assertError(r, 400, "BAD_REQUEST", "edges[0].param");
    await assertHealthy(h);
  });

  it("refuses a bundle hash that was never uploaded (400) and says to upload it", async () => {
    const hash = sha256("never uploaded");
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ bundleHash: hash, nodes: [electronNode(0)] }));
    assertError(r, 400, "BUNDLE_MISSING", "bundleHash", hash, "upload it first", `PUT /api/v1/bundles/${hash}`);
    await assertHealthy(h);
  });

  it("refuses a bundle hash that is not a sha256 (400)", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ bundleHash: "../../valence.db", nodes: [electronNode(0)] }));
    assertError(r, 400, "BAD_REQUEST", "bundleHash", "64 hex digits");
    await assertHealthy(h);
  });

  it("refuses electrons with no bundleHash (400) and says they need one", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ nodes: [electronNode(0)] }));
    assertError(r, 400, "BAD_REQUEST", "bundleHash", "electrons", "bundle");
    await assertHealthy(h);
  });

  it("refuses an electron node without an electronId (400)", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ nodes: [electronNode(0, { electronId: null })] }));
    assertError(r, 400, "BAD_REQUEST", "nodes[0].electronId");
    await assertHealthy(h);
  });

  it("answers 404 DISPATCH_NOT_FOUND for a well-formed dispatch id that does not exist", async () => {
    const id = "dsp_000000000nothere0";
    for (const path of [`/dispatches/${id}`, `/dispatches/${id}/result`, `/dispatches/${id}/events`]) {
      const r = await call(`${h.base}${path}`);
      assertError(r, 404, "DISPATCH_NOT_FOUND", id);
    }
    assertError(await postJson(`${h.base}/dispatches/${id}/cancel`, {}), 404, "DISPATCH_NOT_FOUND", id);
    await assertHealthy(h);
  });

  it("answers 405 with Allow for a known path asked with a method it does not take, and 404 for an unknown path", async () => {
    const id = "dsp_000000000nothere0";
    const patch = await fetch(`${h.base}/dispatches/${id}`, { method: "PATCH" });
    assert.equal(patch.status, 405);
    assert.equal(patch.headers.get("allow"), "DELETE, GET, HEAD");
    assert.deepEqual(((await patch.json()) as { error: { code: string } }).error.code, "METHOD_NOT_ALLOWED");
    const put = await fetch(`${h.base}/dispatches/${id}/cancel`, { method: "PUT" });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "POST");
    const dashboard = await fetch(`${h.base}/dashboard/summary`, { method: "POST" });
    assert.equal(dashboard.status, 405, "the dashboard's routes too");
    assertError(await call(`${h.base}/no/such/route`), 404, "NOT_FOUND", "no route GET");
    await assertHealthy(h);
  });

  it("answers 404 NOT_FOUND for a malformed dispatch id and says what ids look like", async () => {
    for (const id of ["nope", "dsp_UPPER", "dsp_%27%3B--"]) {
      const r = await call(`${h.base}/dispatches/${id}`);
      assertError(r, 404, "NOT_FOUND", "is not a dispatch id", "dsp_");
    }
    await assertHealthy(h);
  });

  it("refuses to cancel a node beyond the graph (404 NODE_NOT_FOUND) and names it", async () => {
    const id = (await postJson(`${h.base}/dispatches`, validSubmit())).body["dispatchId"] as string;
    const r = await postJson(`${h.base}/dispatches/${id}/cancel`, { nodes: [0, 5] });
    assertError(r, 404, "NODE_NOT_FOUND", "no such node: 5", "0 to 0");
    await assertHealthy(h);
  });

  it("refuses a cancel body of the wrong shape (400) and names the field", async () => {
    const id = (await postJson(`${h.base}/dispatches`, validSubmit())).body["dispatchId"] as string;
    assertError(await postJson(`${h.base}/dispatches/${id}/cancel`, { nodes: [-1] }), 400, "BAD_REQUEST", "nodes[0]");
    assertError(await postJson(`${h.base}/dispatches/${id}/cancel`, { nodes: [0], all: true }), 400, "BAD_REQUEST", "all");
    assertError(await postJson(`${h.base}/dispatches/${id}/cancel`, "{oops"), 400, "BAD_REQUEST", "malformed JSON");
    await assertHealthy(h);
  });

  it("refuses to cancel a dispatch that has finished (409 DISPATCH_FINISHED) and says it is over", async () => {
    const id = await finishedDispatch(h);
    const r = await postJson(`${h.base}/dispatches/${id}/cancel`, {});
    assertError(r, 409, "DISPATCH_FINISHED", id, "already COMPLETED", "nothing to cancel");
    // An empty body means the whole dispatch, and it is over all the same.
    assertError(await call(`${h.base}/dispatches/${id}/cancel`, { method: "POST" }), 409, "DISPATCH_FINISHED", id);
    assertError(await postJson(`${h.base}/dispatches/${id}/cancel`, { nodes: [0] }), 409, "DISPATCH_FINISHED", id);
    // A node the graph does not have is still named as such.
    assertError(await postJson(`${h.base}/dispatches/${id}/cancel`, { nodes: [3] }), 404, "NODE_NOT_FOUND", "no such node: 3");
    await assertHealthy(h);
  });

  it("deletes a finished dispatch with its results dir (DELETE); then it is not found, and deleting it again is a 404", async () => {
    const id = await finishedDispatch(h);
    const results = join(h.dataDir, "results", id);
    assert.equal(existsSync(results), true);
    const r = await call(`${h.base}/dispatches/${id}`, { method: "DELETE" });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body["deleted"], [id]);
    assert.equal(existsSync(results), false);
    assertError(await call(`${h.base}/dispatches/${id}`), 404, "DISPATCH_NOT_FOUND", id);
    assertError(await call(`${h.base}/dispatches/${id}`, { method: "DELETE" }), 404, "DISPATCH_NOT_FOUND", id);
    await assertHealthy(h);
  });

  it("tells the stream of every dispatch (the dashboard's list) that a dispatch was deleted", async () => {
    const id = await finishedDispatch(h);
    const ac = new AbortController();
    const all = await fetch(`${h.base}/events`, { signal: ac.signal });
    const reader = (all.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("\n\n")) text += new TextDecoder().decode((await reader.read()).value);
    assert.equal((await call(`${h.base}/dispatches/${id}`, { method: "DELETE" })).status, 200);
    const deleted = () => parseSse(text).find((e) => e.event === "change" && (e.data as { dispatchId: string; deleted?: boolean }).dispatchId === id);
    while (!deleted()) text += new TextDecoder().decode((await reader.read()).value);
    assert.deepEqual(deleted()?.data, { dispatchId: id, at: (deleted()?.data as { at: number }).at, nodes: [], deleted: true });
    ac.abort();
    await reader.cancel().catch(() => {});
  });

  it("with [retention], sweeps finished dispatches older than it from the store and results dir, and logs what went", async () => {
    const r = await start({ retention: { olderThanMs: 0, everyMs: 1000 } });
    const ac = new AbortController();
    try {
      // The stream of every dispatch hears each one the sweep removed.
      const reader = ((await fetch(`${r.base}/events`, { signal: ac.signal })).body as ReadableStream<Uint8Array>).getReader();
      let text = "";
      while (!text.includes("\n\n")) text += new TextDecoder().decode((await reader.read()).value); // hello: subscribed
      const id = await finishedDispatch(r);
      for (let i = 0; (await call(`${r.base}/dispatches/${id}`)).status !== 404; i++) {
        assert.ok(i < 400, "the retention sweep never removed the dispatch");
        await new Promise((res) => setTimeout(res, 50));
      }
      const deleted = () => parseSse(text).some((e) => e.event === "change" && (e.data as { dispatchId: string; deleted?: boolean }).dispatchId === id && (e.data as { deleted?: boolean }).deleted === true);
      while (!deleted()) text += new TextDecoder().decode((await reader.read()).value);
      assert.equal(existsSync(join(r.dataDir, "results", id)), false);
      assert.ok(r.lines.some((l) => /^retention: removed 1 dispatch \(1 with sublattice runs\), 0 unused bundle files, 0 uploaded values: .* on disk$/.test(l)), r.lines.join("\n"));
    } finally {
      ac.abort();
      await r.stop();
    }
  });

  it("refuses a bad list limit (400) and gives the range", async () => {
    const r = await call(`${h.base}/dispatches?limit=lots`);
    assertError(r, 400, "BAD_REQUEST", "limit", "1 to 1000");
    await assertHealthy(h);
  });

  it("answers an unknown route with 404 JSON naming it", async () => {
    assertError(await call(`${h.base}/nothing/here`), 404, "NOT_FOUND", "/api/v1/nothing/here");
    // GET and HEAD outside /api/ belong to the dashboard; any other method there is an API 404.
    assertError(await call(`http://127.0.0.1:${h.server.info.port}/elsewhere`, { method: "POST" }), 404, "NOT_FOUND", "POST /elsewhere");
    assertError(await call(`${h.base}/health`, { method: "DELETE" }), 405, "METHOD_NOT_ALLOWED", "takes GET, HEAD, not DELETE");
    await assertHealthy(h);
  });

  it("stores a bundle whose contents match its hash (201), and HEAD then finds it", async () => {
    const bundle = Buffer.from(`export const answer = 42; // ${Date.now()}\n`);
    const hash = sha256(bundle);
    assert.equal((await fetch(`${h.base}/bundles/${hash}`, { method: "HEAD" })).status, 404);
    const r = await call(`${h.base}/bundles/${hash}`, { method: "PUT", body: bundle });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal((await fetch(`${h.base}/bundles/${hash}`, { method: "HEAD" })).status, 200);
    assert.deepEqual(readFileSync(join(h.dataDir, "bundles", `${hash}.mjs`)), bundle);
    assert.deepEqual(listTree(join(h.dataDir, "bundles")).filter((f) => f.includes(hash)), [`${hash}.mjs`]);
    // The typed client asks the same question before it uploads.
    assert.equal(await new ServerClient(h.server.info.url).hasBundle(hash), true);
    assert.equal(await new ServerClient(h.server.info.url).hasBundle(sha256("absent")), false);
  });

  it("refuses a bundle whose contents do not match its hash (400) and stores nothing", async () => {
    const bundle = Buffer.from("export const x = 1;\n");
    const claimed = sha256("something else");
    const before = listTree(join(h.dataDir, "bundles"));
    const r = await call(`${h.base}/bundles/${claimed}`, { method: "PUT", body: bundle });
    assertError(r, 400, "BAD_REQUEST", "sha256", sha256(bundle), claimed, "not stored");
    assert.deepEqual(listTree(join(h.dataDir, "bundles")), before);
    assert.equal((await fetch(`${h.base}/bundles/${claimed}`, { method: "HEAD" })).status, 404);
    await assertHealthy(h);
  });

  it("refuses a bundle with no body (400)", async () => {
    const r = await call(`${h.base}/bundles/${sha256("x")}`, { method: "PUT" });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error?.code, "BAD_REQUEST");
    assert.ok(!existsSync(join(h.dataDir, "bundles", `${sha256("x")}.mjs`)));
    await assertHealthy(h);
  });

  it("forgets an upload whose client disconnects halfway: no file left, the server answers, the bundle uploads later", async () => {
    const port = h.server.info.port;
    const bundle = Buffer.alloc(200_000, 0x63);
    const hash = sha256(bundle);
    const dir = join(h.dataDir, "bundles");
    const mine = () => listTree(dir).filter((f) => f.startsWith(hash));
    for (const framing of ["chunked", "content-length"] as const) {
      await abandonUpload(port, hash, framing, bundle.subarray(0, 70_000), bundle.length);
      // The server notices the reset on its own: neither the final file nor a `.upload` stays behind.
      await until(`the partial upload of ${hash} (${framing}) to be deleted`, () => mine().length === 0);
      await assertHealthy(h);
    }
    assert.equal((await fetch(`${h.base}/bundles/${hash}`, { method: "HEAD" })).status, 404);
    const r = await call(`${h.base}/bundles/${hash}`, { method: "PUT", body: bundle });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(mine(), [`${hash}.mjs`]);
    assert.deepEqual(readFileSync(join(dir, `${hash}.mjs`)), bundle);
  });

  it("stores a bundle uploaded by many clients at once (201 each), whole and only once", async () => {
    // Small, so that many uploads are in flight in the same millisecond: each needs its own temporary file.
    for (const size of [1000, 300_000]) {
      const bundle = Buffer.alloc(size, 0x64);
      const hash = sha256(bundle);
      const replies = await Promise.all(Array.from({ length: 32 }, () => call(`${h.base}/bundles/${hash}`, { method: "PUT", body: bundle })));
      for (const r of replies) assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepEqual(listTree(join(h.dataDir, "bundles")).filter((f) => f.startsWith(hash)), [`${hash}.mjs`]);
      assert.deepEqual(readFileSync(join(h.dataDir, "bundles", `${hash}.mjs`)), bundle);
    }
    await assertHealthy(h);
  });

  it("keeps bundle uploads and lookups inside DATA_DIR/bundles whatever the path", async () => {
    const port = h.server.info.port;
    // Targets a traversal would reach: they must be neither read into a reply nor written.
    const outside = join(h.dataDir, "outside.mjs");
    writeFileSync(outside, "secret");
    const treeBefore = listTree(h.dataDir).filter((f) => !f.startsWith("results/") && !f.startsWith("valence.db"));
    const payload = Buffer.from("pwned");
    const hex = "a".repeat(64);
    const paths = [
      `${API_PREFIX}/bundles/..%2F..%2Fvalence.db`,
      `${API_PREFIX}/bundles/..%2Foutside`,
      `${API_PREFIX}/bundles/../../x`,
      `${API_PREFIX}/bundles/../outside`,
      `${API_PREFIX}/bundles/${hex.slice(0, 30)}/${hex.slice(0, 33)}`,
      `${API_PREFIX}/bundles/${hex.slice(0, 30)}%2F${hex.slice(0, 33)}`,
      `${API_PREFIX}/bundles/..%2F${hex.slice(0, 61)}`,
      `${API_PREFIX}/bundles/%2E%2E%2F%2E%2E%2F${hex.slice(0, 58)}`,
      `${API_PREFIX}/bundles/${hex.toUpperCase()}`,
      `${API_PREFIX}/bundles/${hex}%00`,
    ];
    for (const path of paths) {
      for (const method of ["PUT", "HEAD", "GET"]) {
        const r = await rawRequest(port, method, path, method === "PUT" ? payload : undefined);
        assert.ok(r.status === 400 || r.status === 404, `${method} ${path} answered ${r.status}: ${r.text}`);
        assert.ok(!r.text.includes("secret") && !r.text.includes("SQLite"), `${method} ${path} leaked a file: ${r.text}`);
        if (method !== "HEAD") assert.equal(JSON.parse(r.text).error.code, r.status === 400 ? "BAD_REQUEST" : "NOT_FOUND");
      }
    }
    assert.equal(readFileSync(outside, "utf8"), "secret");
    const treeAfter = listTree(h.dataDir).filter((f) => !f.startsWith("results/") && !f.startsWith("valence.db"));
    assert.deepEqual(treeAfter, treeBefore);
    // The data dir is the only thing in its temp parent: nothing was written beside it.
    assert.deepEqual(listTree(h.root).filter((f) => !f.startsWith("data/")), []);
    for (const f of listTree(h.root)) {
      if (!f.endsWith("/")) assert.ok(!readFileSync(join(h.root, f)).equals(payload), `${f} holds the uploaded bytes`);
    }
    // The store a `..%2F..%2Fvalence.db` upload aims at is still a SQLite database.
    assert.equal(readFileSync(join(h.dataDir, "valence.db")).subarray(0, 15).toString(), "SQLite format 3");
    await assertHealthy(h);
  });
});

describe("HTTP API: redispatch", () => {
  let h: Harness;
  before(async () => {
    h = await start({ limits: { longPollMs: 1500 } });
  });
  after(async () => {
    await h.stop();
  });

  it("redispatches a finished dispatch (201): a new id that runs to the same result", async () => {
    const id = await finishedDispatch(h);
    const r = await postJson(`${h.base}/dispatches/${id}/redispatch`, { reusePreviousResults: true });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const again = r.body["dispatchId"] as string;
    assert.match(again, /^dsp_[0-9a-z]+$/);
    assert.notEqual(again, id);
    assert.equal(await waitForEnd(h, again), "COMPLETED");
    const result = await call(`${h.base}/dispatches/${again}/result`);
    assert.equal((result.body["dispatch"] as { output: string }).output, encode(1, "o"));
  });

  it("answers 404 DISPATCH_NOT_FOUND for a well-formed id it does not have", async () => {
    const id = "dsp_0000000000notthere";
    assertError(await postJson(`${h.base}/dispatches/${id}/redispatch`, {}), 404, "DISPATCH_NOT_FOUND", id);
    assertError(await postJson(`${h.base}/dispatches/${id}/redispatch`, { reusePreviousResults: true }), 404, "DISPATCH_NOT_FOUND", id);
    await assertHealthy(h);
  });

  it("answers 404 NOT_FOUND for a malformed id and says what ids look like", async () => {
    for (const id of ["nope", "dsp_UPPER", "dsp_x", "dsp_%27%3B--", "..%2F..%2Fvalence.db"]) {
      assertError(await postJson(`${h.base}/dispatches/${id}/redispatch`, {}), 404, "NOT_FOUND", "is not a dispatch id", "dsp_");
    }
    await assertHealthy(h);
  });

  it("refuses a body of the wrong shape (400) and names the field", async () => {
    const id = await finishedDispatch(h);
    const url = `${h.base}/dispatches/${id}/redispatch`;
    const count = async () => ((await call(`${h.base}/dispatches?limit=1000`)).body["dispatches"] as unknown[]).length;
    const before = await count();
    const replacement = { name: "e", electronId: "new.ts#e", bundleHash: null, executor: null };
    assertError(await postJson(url, { reusePreviousResults: "yes" }), 400, "BAD_REQUEST", "reusePreviousResults");
    assertError(await postJson(url, { reuse: true }), 400, "BAD_REQUEST", "reuse");
    assertError(await postJson(url, { replaceElectrons: {} }), 400, "BAD_REQUEST", "replaceElectrons");
    assertError(await postJson(url, { replaceElectrons: [{ ...replacement, name: 7 }] }), 400, "BAD_REQUEST", "replaceElectrons[0].name");
    assertError(await postJson(url, { replaceElectrons: [{ ...replacement, colour: "red" }] }), 400, "BAD_REQUEST", "replaceElectrons[0]", "colour");
    assertError(await postJson(url, { replaceElectrons: [{ ...replacement, bundleHash: "../../valence.db" }] }), 400, "BAD_REQUEST", "replaceElectrons[0].bundleHash", "64 hex digits");
    const missing = sha256("not uploaded");
    assertError(await postJson(url, { replaceElectrons: [{ ...replacement, bundleHash: missing }] }), 400, "BAD_REQUEST", missing, "upload it first");
    assertError(await postJson(url, "[true]"), 400, "BAD_REQUEST", "object");
    assertError(await postJson(url, "{oops"), 400, "BAD_REQUEST", "malformed JSON");
    assertError(await call(url, { method: "POST" }), 400, "BAD_REQUEST", "Content-Type: application/json");
    assertError(await call(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" }), 400, "BAD_REQUEST", "Content-Type: application/json");
    // Nothing was stored for the refused requests.
    assert.equal(await count(), before);
    await assertHealthy(h);
  });

  it("refuses to redispatch a dispatch that still runs (409 REDISPATCH) and says to wait or cancel; cancel still works then", async () => {
    const hash = sha256(SLOW_BUNDLE);
    assert.equal((await call(`${h.base}/bundles/${hash}`, { method: "PUT", body: SLOW_BUNDLE })).status, 201);
    const submitted = await postJson(`${h.base}/dispatches`, validSubmit({ bundleHash: hash, nodes: [electronNode(0)] }));
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const id = submitted.body["dispatchId"] as string;
    // Stored and not ended: whether its runner has started it yet or not, it is not finished.
    assertError(await postJson(`${h.base}/dispatches/${id}/redispatch`, {}), 409, "REDISPATCH", id, "still", "once it has finished");
    await until("the slow task to start", () => h.server.supervisor.running > 0, 20_000);
    const running = await call(`${h.base}/dispatches/${id}`);
    assert.notEqual(running.body["status"], "COMPLETED");
    assertError(await postJson(`${h.base}/dispatches/${id}/redispatch`, { reusePreviousResults: true }), 409, "REDISPATCH", id, "still");
    // Nor can it be deleted while it runs.
    assertError(await call(`${h.base}/dispatches/${id}`, { method: "DELETE" }), 409, "DELETE_REFUSED", id, "cancel it first");
    // A live dispatch can be cancelled, and then redispatched.
    let cancel = await postJson(`${h.base}/dispatches/${id}/cancel`, {});
    for (let i = 0; i < 100 && cancel.status === 200 && cancel.body["cancelled"] === false; i++) {
      await new Promise((r) => setTimeout(r, 50)); // the runner is starting: ask again once it has the dispatch
      cancel = await postJson(`${h.base}/dispatches/${id}/cancel`, {});
    }
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    assert.equal(cancel.body["cancelled"], true);
    assert.equal(await waitForEnd(h, id), "CANCELLED");
    assertError(await postJson(`${h.base}/dispatches/${id}/cancel`, {}), 409, "DISPATCH_FINISHED", id, "already CANCELLED");
    const again = await postJson(`${h.base}/dispatches/${id}/redispatch`, {});
    assert.equal(again.status, 201, JSON.stringify(again.body));
    const againId = again.body["dispatchId"] as string;
    await until("the redispatched slow task to start", () => h.server.supervisor.running > 0, 20_000);
    let stop = await postJson(`${h.base}/dispatches/${againId}/cancel`, {});
    for (let i = 0; i < 100 && stop.status === 200 && stop.body["cancelled"] === false; i++) {
      await new Promise((r) => setTimeout(r, 50));
      stop = await postJson(`${h.base}/dispatches/${againId}/cancel`, {});
    }
    assert.equal(await waitForEnd(h, againId), "CANCELLED");
    await assertHealthy(h);
  });
});

describe("HTTP API: size limits", () => {
  let h: Harness;
  before(async () => {
    h = await start({ limits: { maxJsonBytes: 2048, maxBundleBytes: 4096 } });
  });
  after(async () => {
    await h.stop();
  });

  it("refuses a JSON body over maxJsonBytes (413) and says how large it may be", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit({ name: "x".repeat(10_000) }));
    assertError(r, 413, "PAYLOAD_TOO_LARGE", "2048 bytes");
    await assertHealthy(h);
  });

  it("refuses a streamed JSON body (no Content-Length) over maxJsonBytes (413)", async () => {
    const big = new TextEncoder().encode(JSON.stringify(validSubmit({ name: "y".repeat(10_000) })));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < big.length; i += 1000) controller.enqueue(big.slice(i, i + 1000));
        controller.close();
      },
    });
    const r = await call(`${h.base}/dispatches`, { method: "POST", headers: { "content-type": "application/json" }, body, duplex: "half" } as RequestInit);
    assertError(r, 413, "PAYLOAD_TOO_LARGE", "2048 bytes");
    await assertHealthy(h);
  });

  it("refuses an oversized cancel body (413)", async () => {
    const r = await postJson(`${h.base}/dispatches/dsp_000000000nothere0/cancel`, { nodes: Array.from({ length: 2000 }, (_, i) => i) });
    // The size is checked from Content-Length before the dispatch is looked up.
    assertError(r, 413, "PAYLOAD_TOO_LARGE", "2048 bytes");
    await assertHealthy(h);
  });

  it("accepts a JSON body under the limit", async () => {
    const r = await postJson(`${h.base}/dispatches`, validSubmit());
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });

  it("refuses a bundle over maxBundleBytes (413) and leaves no file in DATA_DIR/bundles", async () => {
    const bundle = Buffer.alloc(64 * 1024, 0x61);
    const hash = sha256(bundle);
    const r = await call(`${h.base}/bundles/${hash}`, { method: "PUT", body: bundle });
    assertError(r, 413, "PAYLOAD_TOO_LARGE", "4096 bytes");
    assert.deepEqual(listTree(join(h.dataDir, "bundles")), []);
    assert.equal((await fetch(`${h.base}/bundles/${hash}`, { method: "HEAD" })).status, 404);
    // Refused before its temporary file was even open: the late open must not leave the file behind.
    for (let i = 0; i < 20; i++) assertError(await call(`${h.base}/bundles/${hash}`, { method: "PUT", body: bundle }), 413, "PAYLOAD_TOO_LARGE");
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(listTree(join(h.dataDir, "bundles")), []);
    await assertHealthy(h);
  });

  it("accepts a bundle at the limit", async () => {
    const bundle = Buffer.alloc(4096, 0x62);
    const hash = sha256(bundle);
    const r = await call(`${h.base}/bundles/${hash}`, { method: "PUT", body: bundle });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(listTree(join(h.dataDir, "bundles")), [`${hash}.mjs`]);
  });
});

describe("HTTP API: token", () => {
  it("with a token, answers 401 without it or with a wrong one, 200 with it, and never logs it", async () => {
    const token = "s3cret";
    const h = await start({ token });
    try {
      const bare = await call(`${h.base}/health`);
      assertError(bare, 401, "UNAUTHORIZED", "Authorization: Bearer");
      assert.ok(!bare.body.error?.message.includes(token));
      for (const authorization of ["Bearer wrong", "Bearer s3cre", "Bearer s3cret2", "s3cret", "Basic czNjcmV0", "bearer s3cret"]) {
        assertError(await call(`${h.base}/health`, { headers: { authorization } }), 401, "UNAUTHORIZED");
      }
      // Every route is behind the token, unknown ones and bundle uploads included.
      assertError(await call(`${h.base}/nothing`), 401, "UNAUTHORIZED");
      assertError(await postJson(`${h.base}/dispatches`, validSubmit()), 401, "UNAUTHORIZED");
      assertError(await call(`${h.base}/bundles/${sha256("b")}`, { method: "PUT", body: "b" }), 401, "UNAUTHORIZED");
      assert.ok(!existsSync(join(h.dataDir, "bundles", `${sha256("b")}.mjs`)));
      const auth = { authorization: `Bearer ${token}` };
      await assertHealthy(h, auth);
      const submitted = await postJson(`${h.base}/dispatches`, validSubmit(), auth);
      assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
      await h.server.close();
      assert.ok(h.lines.length > 0, "the server logged nothing");
      for (const line of h.lines) assert.ok(!line.includes(token), `a log line holds the token: ${line}`);
    } finally {
      await h.stop();
    }
  });

  it("on a non-loopback host with no token, makes DATA_DIR/server.token (0600), requires it and never logs it", async () => {
    const h = await start({ host: "0.0.0.0" });
    try {
      const file = join(h.dataDir, "server.token");
      assert.ok(existsSync(file), "no server.token in the data dir");
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const token = readFileSync(file, "utf8").trim();
      assert.ok(token.length >= 32, `a short token: ${token.length} characters`);
      assertError(await call(`${h.base}/health`), 401, "UNAUTHORIZED", "server.token");
      assertError(await call(`${h.base}/dispatches`), 401, "UNAUTHORIZED");
      await assertHealthy(h, { authorization: `Bearer ${token}` });
      await h.server.close();
      for (const line of h.lines) assert.ok(!line.includes(token), `a log line holds the token: ${line}`);
    } finally {
      await h.stop();
    }
  });

  it("on a non-loopback host, makes the token even when the data dir does not exist yet", async () => {
    const parent = mkdtempSync(join(tmpdir(), "valence-app-"));
    const dataDir = join(parent, "fresh", "data");
    try {
      const server = await startServer({ dataDir, host: "0.0.0.0", port: 0, log: () => {} });
      try {
        assert.equal(statSync(join(dataDir, "server.token")).mode & 0o777, 0o600);
        assertError(await call(`http://127.0.0.1:${server.info.port}${API_PREFIX}/health`), 401, "UNAUTHORIZED");
      } finally {
        await server.close();
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it("keeps the same token across restarts on the same data dir", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "valence-app-"));
    const first = await startServer({ dataDir, host: "0.0.0.0", port: 0, log: () => {} });
    const token = readFileSync(join(dataDir, "server.token"), "utf8").trim();
    await first.close();
    const h = await start({ host: "0.0.0.0" }, dataDir);
    try {
      assert.equal(readFileSync(join(dataDir, "server.token"), "utf8").trim(), token);
      await assertHealthy(h, { authorization: `Bearer ${token}` });
    } finally {
      await h.stop();
    }
  });
});
