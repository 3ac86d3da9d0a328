// Many clients at once, as a team's scripts would: 20 processes dispatching embedded into one
// data dir, then 20 dispatching through one server while the dashboard's API is read without
// pause. Every dispatch completes with its own result and nobody sees "database is locked" /
// SQLITE_BUSY (Covalent's #689 and #474): writers queue on SQLite's busy timeout (5 s) behind
// each other's short IMMEDIATE transactions, and readers never block in WAL mode.
import { dataDir as root } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { freePort } from "./fixtures/free-port.js";
import { killAllOn } from "./fixtures/processes.js";

const bin = fileURLToPath(new URL("../bin/valence.js", import.meta.url));
const script = fileURLToPath(new URL("./fixtures/concurrency-workflow.ts", import.meta.url));
const CLIENTS = 20;
const BUSY = /database is locked|SQLITE_BUSY/i;
const expected = (k: number) => Array.from({ length: 5 }, (_, i) => (k + i) * 2).reduce((a, b) => a + b, 0);
const started: ChildProcess[] = [];

after(async () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const dir of ["embedded", "server"]) killAllOn(join(root, dir));
  rmSync(root, { recursive: true, force: true });
});

interface Client {
  readonly k: number;
  readonly code: number | null;
  readonly out: string;
}

/** Starts `CLIENTS` `valence run` processes at once and collects how each ended. */
async function clients(env: NodeJS.ProcessEnv): Promise<Client[]> {
  return Promise.all(
    Array.from({ length: CLIENTS }, async (_, k) => {
      const child = spawn(process.execPath, [bin, "run", script, "--", String(k)], { env, stdio: ["ignore", "pipe", "pipe"] });
      started.push(child);
      let out = "";
      child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
      child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
      const [code] = (await once(child, "exit")) as [number | null];
      return { k, code, out };
    }),
  );
}

function assertAllCompleted(results: Client[]): void {
  for (const r of results) {
    assert.equal(r.code, 0, `client ${r.k} exited with ${r.code}:\n${r.out}`);
    assert.match(r.out, new RegExp(`result ${r.k}: ${expected(r.k)}\\n`), `client ${r.k}:\n${r.out}`);
    assert.doesNotMatch(r.out, BUSY, `client ${r.k}:\n${r.out}`);
  }
}

/** Every file under `dir` whose name ends in .log, with its text. */
function logs(dir: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...logs(p));
    else if (name.endsWith(".log")) out.push([p, readFileSync(p, "utf8")]);
  }
  return out;
}

describe(`${CLIENTS} clients at once`, () => {
  it("dispatching embedded into one data dir: every one completes with its own result, none sees the store locked", { timeout: 240_000 }, async (t) => {
    const dataDir = join(root, "embedded");
    const began = Date.now();
    const results = await clients({ ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_SERVER: "embedded" });
    t.diagnostic(`${CLIENTS} embedded clients in ${Date.now() - began} ms`);
    assertAllCompleted(results);
  });

  it("dispatching through one server while the dashboard is read: every one completes, no reader or writer sees the store locked", { timeout: 240_000 }, async (t) => {
    const dataDir = join(root, "server");
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = spawn(process.execPath, [bin, "start", "--foreground", "--port", String(port)], {
      env: { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_SERVER: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.push(server);
    let serverOut = "";
    server.stdout?.on("data", (b: Buffer) => (serverOut += b.toString()));
    server.stderr?.on("data", (b: Buffer) => (serverOut += b.toString()));
    for (let i = 0; ; i++) {
      assert.ok(i < 300 && server.exitCode === null, `the server did not start:\n${serverOut}`);
      try {
        if ((await fetch(`${url}/api/v1/health`)).ok) break;
      } catch {
        /* not yet */
      }
      await sleep(50);
    }

    // The dashboard, meanwhile: its summary, list and the newest dispatch's graph, without pause.
    let reading = true;
    let reads = 0;
    const badReads: string[] = [];
    const reader = (async () => {
      while (reading) {
        for (const path of ["/summary", "/dispatches?page=1", "/head"]) {
          const res = await fetch(`${url}/api/v1/dashboard${path}`);
          const text = await res.text();
          reads++;
          if (res.status !== 200 || BUSY.test(text)) badReads.push(`${path}: ${res.status} ${text.slice(0, 300)}`);
          if (path === "/head") {
            const newest = (JSON.parse(text) as { newest: string | null }).newest;
            if (newest) {
              const graph = await fetch(`${url}/api/v1/dashboard/dispatches/${newest}/graph`);
              reads++;
              if (graph.status !== 200) badReads.push(`graph of ${newest}: ${graph.status} ${(await graph.text()).slice(0, 300)}`);
              else await graph.arrayBuffer();
            }
          }
        }
      }
    })();

    const began = Date.now();
    const results = await clients({ ...process.env, VALENCE_DATA_DIR: join(root, "server-clients"), VALENCE_SERVER: url });
    t.diagnostic(`${CLIENTS} clients through the server in ${Date.now() - began} ms, ${reads} dashboard reads meanwhile`);
    reading = false;
    await reader;
    assertAllCompleted(results);
    assert.deepEqual(badReads, []);
    assert.ok(reads > CLIENTS, `the dashboard was read ${reads} times only`);

    server.kill("SIGTERM");
    await once(server, "exit");
    assert.doesNotMatch(serverOut, BUSY, serverOut);
    for (const [file, text] of logs(dataDir)) assert.doesNotMatch(text, BUSY, `${file}:\n${text}`);
  });
});
