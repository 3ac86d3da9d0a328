/**
 * Fuzzing the HTTP API: a few thousand random requests from a seeded PRNG
 * against a real server (random methods on real routes with mangled ids, odd
 * segments, `..`, percent-encodings and very long paths; random JSON, truncated
 * JSON, binary garbage and mutated submit bodies; random content types), sent
 * 16 at a time, bodies of up to 8 MB among them. No request may get a 5xx or a
 * non-JSON error, hang, or leave a temporary upload behind; the server's memory
 * stays bounded; afterwards it still runs a real dispatch and the store is
 * intact. A second run against a server with a token: every /api/ request
 * without the right `Authorization` gets a 401 JSON error.
 *
 * Reproduce a failure with the seed it prints: `VALENCE_FUZZ_SEED=<seed>`
 * (and `VALENCE_FUZZ_N=<count>` to change the number of requests). Request
 * `#i` is generated from the seed alone; only the dispatch ids learned from
 * earlier replies depend on timing.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { API_PREFIX } from "../api/wire.js";
import { decode, encode } from "../codec/index.js";
import { EventHub } from "./event-hub.js";
import { startServer, type RunningServer } from "./server.js";
import { paramNode, validSubmit } from "./test-support/submissions.js";
import { seededRandom } from "../test-support/seeded-random.js";

// A token from the environment would turn every request into a 401.
delete process.env["VALENCE_TOKEN"];

const SEED = Number(process.env["VALENCE_FUZZ_SEED"] ?? Math.floor(Math.random() * 2 ** 32));
const COUNT = Number(process.env["VALENCE_FUZZ_N"] ?? 3000);
const CONCURRENCY = 16;
/** A request unanswered this long is a hang (long polls are held for LONG_POLL_MS at most). */
const REQUEST_TIMEOUT_MS = 20_000;
const LONG_POLL_MS = 200;
/** Small limits, so that some bodies and uploads are over them. */
const MAX_JSON_BYTES = 64 * 1024;
const MAX_BUNDLE_BYTES = 4096;

const prng = seededRandom;

class Gen {
  constructor(readonly next: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)] as T;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
  chars(n: number, alphabet: string): string {
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }
  /** Any string: ASCII, control characters, quotes, emoji, lone surrogates. */
  text(max = 20): string {
    const n = this.int(0, max);
    let s = "";
    for (let i = 0; i < n; i++) {
      s += this.pick([
        () => String.fromCharCode(this.int(32, 126)),
        () => String.fromCharCode(this.int(0, 31)),
        () => this.pick(['"', "\\", "/", "..", "%", "\u0000", "~v1:", "dsp_", "{", "]"]),
        () => String.fromCodePoint(this.int(0x80, 0x10ffff)),
        () => String.fromCharCode(this.int(0xd800, 0xdfff)),
      ])();
    }
    return s;
  }
  number(): number {
    return this.pick([
      () => this.int(-3, 10),
      () => this.int(-1e9, 1e9),
      () => this.next() * 1e6 - 5e5,
      () => this.pick([0, -0, 1.5, 2 ** 31, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER]),
    ])();
  }
  json(depth = 0): unknown {
    const leaf = depth > 3 || this.chance(0.5);
    if (leaf) return this.pick([() => null, () => this.chance(0.5), () => this.number(), () => this.text()])();
    if (this.chance(0.5)) return Array.from({ length: this.int(0, 5) }, () => this.json(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = this.int(0, 5); i > 0; i--) {
      o[this.pick(["__proto__", "constructor", "nodes", "name", "reusePreviousResults", "replaceElectrons", "", this.text(8)])] = this.json(depth + 1);
    }
    return o;
  }
}

interface FuzzRequest {
  readonly method: string;
  /** Sent byte for byte; `{id}` is replaced, when sent, by a dispatch id the server gave out. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
  /** What was made, for the failure message. */
  readonly note: string;
  /** Sent this many times at once (uploads of one bundle by many clients). */
  readonly burst?: number;
  /** On a connection of its own: the server closes it after refusing a huge body. */
  readonly ownConnection?: boolean;
}

// ---------------------------------------------------------------- request generation

const HEX = "0123456789abcdef";
const B36 = "0123456789abcdefghijklmnopqrstuvwxyz";
/** Characters node:http sends unescaped in a path. */
const PATH_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@";

/** In a file beside the data dir: no reply may ever contain it. */
const SECRET = "fuzz-secret-0b9f2c";

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** Values uploaded before the fuzz as blobs: one that decodes (an argument list), one that does not. */
const GOOD_BLOB = encode([1, "two"], "args");
const BAD_BLOB = "~v1:[";

/** A bundle with no electrons, uploaded before the fuzz: submits that name it get past the bundle check. */
const EMPTY_BUNDLE = "export {};\n";

/**
 * A bundle whose electron `wf.ts#e` sleeps for a minute, registered straight
 * into the process-global registry: its dispatch runs (until the fuzz cancels it).
 */
const SLOW_BUNDLE = `
const reg = globalThis[Symbol.for("valence.global-registry.v1")];
const entry = { id: "wf.ts#e", name: "e", fn: () => new Promise((resolve) => setTimeout(() => resolve(1), 60_000)) };
reg.electrons.set(entry.id, entry);
for (const w of reg.waiters.get(entry.id) ?? []) w(entry);
reg.waiters.delete(entry.id);
`;

/** A bundle whose electron `wf.ts#answer` returns 42: the real dispatch sent after the fuzz. */
const ANSWER_BUNDLE = `
const reg = globalThis[Symbol.for("valence.global-registry.v1")];
const entry = { id: "wf.ts#answer", name: "answer", fn: () => 42 };
reg.electrons.set(entry.id, entry);
for (const w of reg.waiters.get(entry.id) ?? []) w(entry);
reg.waiters.delete(entry.id);
`;

/**
 * Bodies far over every limit (up to 8 MB), all views of one buffer made once,
 * so that sending dozens of them costs the test no memory of its own.
 */
const HUGE = Buffer.alloc(8 * 1024 * 1024, "[");

/** Percent-encodes every byte that node:http would refuse in a request line. */
function pathSafe(s: string): string {
  return Array.from(Buffer.from(s, "utf8"), (byte) => {
    const c = String.fromCharCode(byte);
    return PATH_CHARS.includes(c) || c === "/" || c === "%" || c === "?" ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }).join("");
}

function dispatchId(g: Gen): string {
  return g.pick([
    () => "{id}", // a real one, if the server has given any out yet
    () => "{id}",
    () => `dsp_${g.chars(g.int(6, 40), B36)}`,
    () => "dsp_0000000000notthere",
    () => `dsp_${g.chars(g.int(0, 5), B36)}`,
    () => `dsp_${g.chars(g.int(41, 60), B36)}`,
    () => `DSP_${g.chars(10, B36)}`,
    () => `dsp_${g.chars(10, B36).toUpperCase()}`,
    () => g.pick(["..", ".", "%2E%2E", "..%2F..%2Fvalence.db", "dsp_%27%3B--", "%00", "dsp_abc%00def", "%", "%zz", "%E0%A4%A", "%F0%9F%98%80", ""]),
    () => `{id}${g.pick(["%00", "x", "/..", "%2F..", "Z", "~"])}`,
    () => pathSafe(g.text(12)),
    () => g.chars(g.int(1, 4000), PATH_CHARS),
  ])();
}

function bundleHash(g: Gen): string {
  return g.pick([
    () => g.chars(64, HEX),
    () => g.chars(64, HEX).toUpperCase(),
    () => g.chars(g.pick([0, 1, 63, 65, 128]), HEX),
    () => sha256(EMPTY_BUNDLE),
    () => `..%2F..%2Fvalence.db`,
    () => `${g.chars(30, HEX)}/${g.chars(34, HEX)}`,
    () => `${g.chars(64, HEX)}%00`,
    () => `${g.chars(64, HEX)}.mjs`,
    () => pathSafe(g.text(10)),
  ])();
}

function query(g: Gen): string {
  if (g.chance(0.6)) return "";
  const parts = Array.from({ length: g.int(1, 3) }, () =>
    g.pick([
      () => `limit=${pathSafe(g.pick([String(g.number()), "lots", "", "1e3", "0x10", "50", "-1", " 5"]))}`,
      () => `status=${g.pick(["COMPLETED", "RUNNING", "", "nope", "%00"])}`,
      () => `wait=${g.pick(["true", "false", "1", ""])}`,
      () => `statusOnly=${g.pick(["true", "false", ""])}`,
      () => pathSafe(g.text(10)),
      () => "%zz=%",
    ])(),
  );
  return `?${parts.join("&")}`;
}

function path(g: Gen): string {
  const id = () => dispatchId(g);
  const base = g.pick([
    () => `${API_PREFIX}/health`,
    () => `${API_PREFIX}/dispatches`,
    () => `${API_PREFIX}/dispatches/${id()}`,
    () => `${API_PREFIX}/dispatches/${id()}/result`,
    () => `${API_PREFIX}/dispatches/${id()}/cancel`,
    () => `${API_PREFIX}/dispatches/${id()}/cancel`,
    () => `${API_PREFIX}/dispatches/${id()}/redispatch`,
    () => `${API_PREFIX}/dispatches/${id()}/redispatch`,
    () => `${API_PREFIX}/dispatches/${id()}/events`,
    () => `${API_PREFIX}/events`,
    () => `${API_PREFIX}/bundles/${bundleHash(g)}`,
    () => `${API_PREFIX}/bundles/${bundleHash(g)}`,
    () => `${API_PREFIX}/blobs/${bundleHash(g)}`,
    () => g.pick(["/", "/api", "/api/v1", "/api/v1/", "/api/v2/health", "//api//v1//health", "/API/V1/HEALTH", "/api/v1/health/"]),
    () => `${API_PREFIX}/${Array.from({ length: g.int(1, 6) }, () => g.pick(["..", ".", "%2e%2e", "%2F", pathSafe(g.text(6)), "dispatches", "bundles", "{id}"])).join("/")}`,
    () => `${API_PREFIX}/../../${g.pick(["etc/passwd", "valence.db", "api/v1/health"])}`,
    () => `/${g.pick(["", "index.html", "assets/app.js", "assets/missing.js", "dispatches/{id}", "..%2Fsecret.txt", "..%2F..%2Fsecret.txt", "%2E%2E/secret.txt", "assets/..%2F..%2Fsecret.txt", "..%5Csecret.txt", "%00", "%ff", "data/valence.db", "..%2Fdata%2Fvalence.db"])}`,
    () => `${API_PREFIX}/dashboard/${g.pick(["summary", "dispatches", "dispatches/{id}/graph", `dispatches/{id}/nodes/${g.int(-1, 3)}`, `dispatches/{id}/nodes/${g.int(0, 1)}/output`, "dispatches/{id}/result-text", "log", "config", pathSafe(g.text(6))])}`,
    () => `/${g.chars(g.int(1000, 7000), PATH_CHARS)}`,
    () => `${API_PREFIX}/dispatches/${id()}/${pathSafe(g.text(8))}`,
  ])();
  return base + query(g);
}



const SUBMIT_KEYS = ["name", "latticeId", "entryFile", "cwd", "inputs", "inputsBlob", "outputTemplate", "bundleHash", "nodes", "edges", "sources"];
const NODE_KEYS = ["nodeId", "kind", "name", "electronId", "executor", "retries", "timeoutMs", "key", "holes", "value", "output", "outputBlob"];

/** A plausible value for a field that is still wrong more often than not. */
function fieldValue(g: Gen, key: string): unknown {
  const specific: Record<string, () => unknown> = {
    name: () => g.pick(["", "x".repeat(1001), g.text(30), 7]),
    cwd: () => g.pick(["relative/dir", "/", "/../../etc", "/nonexistent/dir", "", "/tmp/%00"]),
    inputs: () => g.pick(["", "~v1:", "~v1:[", "[", "~v1:[[\"m\",[[1,2]]]]", '"~v1:x"', encode([1, "a", null], "a"), g.text(10)]),
    outputTemplate: () =>
      g.pick([
        "",
        "{",
        JSON.stringify({ value: 1, holes: [{ path: [], nodeId: g.int(-2, 99) }] }),
        JSON.stringify({ value: [0, 0], holes: [{ path: [g.int(0, 5)], nodeId: 0 }] }),
        JSON.stringify({ value: 1, holes: "all" }),
        JSON.stringify({ holes: [] }),
        "null",
      ]),
    bundleHash: () => g.pick([g.chars(64, HEX), sha256(EMPTY_BUNDLE), "../../valence.db", "", null]),
    kind: () => g.pick(["electron", "sublattice", "attribute", "index", "collection", "parameter", "lambda", ""]),
    electronId: () => g.pick([null, "wf.ts#e", "", g.text(10)]),
    executor: () => g.pick([null, '"inline"', '"local"', '"nope"', "{", '{"plugin":"Nope","state":{}}', "1"]),
    key: () => g.pick([null, '"x"', "0", "{"]),
    holes: () => g.pick([null, "[]", '[[0]]', "{"]),
    value: () => g.pick([null, "1", "~v1:[", ""]),
    output: () => g.pick([null, "1", "~v1:[", "", '"s"', encode(new Map([[1, 2]]), "o")]),
    nodeId: () => g.pick([0, 1, -1, 0.5, "0", 2 ** 40]),
    inputsBlob: () => g.pick([sha256(GOOD_BLOB), sha256(BAD_BLOB), sha256(EMPTY_BUNDLE), g.chars(64, HEX), "../blobs", null]),
    outputBlob: () => g.pick([sha256(GOOD_BLOB), sha256(BAD_BLOB), g.chars(64, HEX), "", null]),
    sources: () => g.pick([{}, { "wf.ts#e": "export const e = () => 1;" }, { "": "" }, { x: 1 }, [], "x".repeat(10)]),
    retries: () => g.pick([0, 1000, 1001, -1, 0.5, "1"]),
    timeoutMs: () => g.pick([null, 0, -1, 1, 1e308, "5"]),
  };
  return g.chance(0.3) ? g.json() : (specific[key] ?? (() => g.json()))();
}

/** A valid submit body with one to three random mutations. */
function mutatedSubmit(g: Gen): { body: Record<string, unknown>; note: string } {
  const body: Record<string, unknown> = { ...validSubmit() };
  const nodes = body["nodes"] as Array<Record<string, unknown>>;
  const notes: string[] = [];
  for (let i = g.int(1, 3); i > 0; i--) {
    const op = g.int(0, 9);
    if (op === 0) {
      const k = g.pick(SUBMIT_KEYS);
      delete body[k];
      notes.push(`-${k}`);
    } else if (op === 1 || op === 2) {
      const k = g.pick(SUBMIT_KEYS);
      body[k] = fieldValue(g, k);
      notes.push(`${k}=`);
    } else if (op === 3) {
      body[g.pick(["surprise", "__proto__", "constructor", g.text(5)])] = g.json();
      notes.push("+key");
    } else if (op === 4 || op === 5) {
      const n = g.pick(nodes) ?? paramNode(0);
      const k = g.pick(NODE_KEYS);
      if (g.chance(0.15)) delete n[k];
      else n[k] = fieldValue(g, k);
      notes.push(`node.${k}`);
    } else if (op === 6) {
      for (let j = g.int(1, 6); j > 0; j--) nodes.push(g.chance(0.7) ? paramNode(nodes.length) : paramNode(g.int(0, 9)));
      notes.push("+nodes");
    } else if (op === 7) {
      const n = Math.max(1, nodes.length);
      body["edges"] = Array.from({ length: g.int(1, 8) }, () => ({
        source: g.chance(0.9) ? g.int(0, n) : g.number(),
        target: g.chance(0.9) ? g.int(0, n) : g.number(),
        param: g.pick([JSON.stringify({ kind: "arg", index: g.int(0, 3) }), JSON.stringify({ kind: "wait" }), "{x", "", JSON.stringify({ kind: "item", slot: -1 })]),
        ...(g.chance(0.1) ? { extra: 1 } : {}),
      }));
      notes.push("edges");
    } else if (op === 8) {
      body["nodes"] = g.pick([[], null, {}, "nodes", Array.from({ length: g.int(1, 3) }, () => g.json())]);
      notes.push("nodes=");
    } else {
      // Electrons with a bundle that is (fuzz-uploaded or) absent.
      nodes[0] = { ...paramNode(0), kind: "electron", electronId: "wf.ts#e", executor: '"inline"', output: null };
      body["bundleHash"] = g.pick([sha256(EMPTY_BUNDLE), g.chars(64, HEX), null]);
      notes.push("electron");
    }
  }
  return { body, note: `submit ${notes.join(" ")}` };
}

function jsonBody(g: Gen): { body: Buffer; note: string } {
  return g.pick([
    () => ({ body: Buffer.from(JSON.stringify(g.json())), note: "json" }),
    () => {
      const whole = JSON.stringify(g.chance(0.5) ? validSubmit() : g.json());
      return { body: Buffer.from(whole.slice(0, g.int(0, Math.max(0, whole.length - 1)))), note: "truncated json" };
    },
    () => ({ body: g.bytes(g.int(0, 2000)), note: "binary" }),
    () => ({ body: Buffer.from(g.text(50)), note: "text" }),
    () => ({ body: Buffer.from(JSON.stringify(g.pick([{}, { nodes: [] }, { nodes: [0] }, { nodes: [g.int(0, 5), g.int(-1, 99)] }, { reusePreviousResults: true }, { reusePreviousResults: g.json() }]))), note: "cancel/redispatch body" }),
    () => ({
      body: Buffer.from(
        JSON.stringify({
          ...(g.chance(0.5) ? { reusePreviousResults: g.chance(0.5) } : {}),
          replaceElectrons: Array.from({ length: g.int(0, 2) }, () => ({ name: g.pick(["e", "p0", "", 1]), electronId: g.pick(["new.ts#e", "", null]), bundleHash: g.pick([null, g.chars(64, HEX), "..", sha256(EMPTY_BUNDLE)]), executor: g.pick([null, '"inline"', 5]) })),
        }),
      ),
      note: "redispatch replaceElectrons",
    }),
    () => ({ body: Buffer.from("{".repeat(g.int(1, 5000))), note: "deep json" }),
    () => ({ body: Buffer.from(`[${"[".repeat(3000)}${"]".repeat(3000)}]`), note: "nested json" }),
    () => ({ body: Buffer.from(JSON.stringify({ nodes: Array.from({ length: g.int(0, 20_000) }, (_, i) => i) })), note: "many nodes" }),
    () => {
      const { body, note } = mutatedSubmit(g);
      return { body: Buffer.from(JSON.stringify(body)), note };
    },
    () => {
      const { body, note } = mutatedSubmit(g);
      return { body: Buffer.from(JSON.stringify(body)), note };
    },
    () => {
      const { body, note } = mutatedSubmit(g);
      return { body: Buffer.from(JSON.stringify(body)), note };
    },
  ])();
}

interface Aimed {
  readonly method: string;
  readonly path: string;
  readonly json?: boolean;
  readonly body?: () => { body: Buffer; note: string };
}

/** Requests at a real route with its method; `{id}` is mostly a dispatch the server has. */
const AIMED: ReadonlyArray<(g: Gen) => Aimed> = [
  (g) => ({ method: "POST", path: `${API_PREFIX}/dispatches`, json: true, body: () => jsonBody(g) }),
  (g) => {
    const { body, note } = mutatedSubmit(g);
    return { method: "POST", path: `${API_PREFIX}/dispatches`, json: true, body: () => ({ body: Buffer.from(JSON.stringify(body)), note }) };
  },
  (g) => ({ method: "POST", path: `${API_PREFIX}/dispatches/${g.chance(0.8) ? "{id}" : dispatchId(g)}/cancel`, json: true, body: () => cancelBody(g) }),
  (g) => ({ method: "POST", path: `${API_PREFIX}/dispatches/${g.chance(0.8) ? "{id}" : dispatchId(g)}/redispatch`, json: true, body: () => redispatchBody(g) }),
  (g) => ({ method: "GET", path: `${API_PREFIX}/dispatches/${g.chance(0.8) ? "{id}" : dispatchId(g)}${g.pick(["", "/result", "/result", "/events"])}${query(g)}` }),
  (g) => ({ method: "GET", path: `${API_PREFIX}/dispatches${query(g)}` }),
  (g) => ({ method: g.pick(["GET", "HEAD", "PUT", "PUT"]), path: `${API_PREFIX}/${g.pick(["bundles", "blobs"])}/${bundleHash(g)}`, body: () => ({ body: g.bytes(g.int(0, 3000)), note: "bytes" }) }),
];

function cancelBody(g: Gen): { body: Buffer; note: string } {
  if (g.chance(0.3)) return jsonBody(g);
  const nodes = g.pick([undefined, [], [0], [g.int(0, 3)], [g.int(-2, 5), g.int(0, 2 ** 31)], [0.5], ["0"], null, g.json()]);
  const body: Record<string, unknown> = nodes === undefined ? {} : { nodes };
  if (g.chance(0.1)) body[g.pick(["all", "force", "__proto__"])] = true;
  return { body: Buffer.from(g.chance(0.1) ? "" : JSON.stringify(body)), note: "cancel body" };
}

function redispatchBody(g: Gen): { body: Buffer; note: string } {
  if (g.chance(0.3)) return jsonBody(g);
  // Seldom right: a valid one of a finished dispatch starts a new one (and a runner process).
  if (g.chance(0.05)) return { body: Buffer.from(JSON.stringify(g.pick([{}, { reusePreviousResults: true }, { reusePreviousResults: false }]))), note: "valid redispatch body" };
  const body: Record<string, unknown> = {};
  const notBoolean = () => g.pick([null, 0, 1, "true", [], {}, g.text(3)]);
  if (g.chance(0.6)) body["reusePreviousResults"] = notBoolean();
  else if (g.chance(0.5)) body["reusePreviousResults"] = g.chance(0.5);
  if (body["reusePreviousResults"] === undefined || typeof body["reusePreviousResults"] === "boolean") {
    body["replaceElectrons"] = g.chance(0.2)
      ? g.json()
      : Array.from({ length: g.int(1, 2) }, () => {
          const r: Record<string, unknown> = { name: g.pick(["e", "p0", "", "nope"]), electronId: g.pick(["new.ts#e", "wf.ts#e", ""]), bundleHash: g.pick([null, g.chars(64, HEX), "..", sha256(EMPTY_BUNDLE)]), executor: g.pick([null, '"inline"', 5]) };
          if (g.chance(0.3)) delete r[g.pick(Object.keys(r))];
          if (g.chance(0.1)) r["extra"] = 1;
          return r;
        });
  }
  if (g.chance(0.1)) body[g.text(4)] = g.json();
  return { body: Buffer.from(JSON.stringify(body)), note: "redispatch body" };
}

function makeRequest(g: Gen, index: number): FuzzRequest {
  const headers: Record<string, string> = {};
  const ct = g.pick(["application/json", "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain", "application/octet-stream", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "", "application/jsonx", null]);
  if (ct !== null) headers["content-type"] = ct;
  if (g.chance(0.1)) headers["authorization"] = g.pick(["Bearer x", "Basic Zm9vOmJhcg==", "", "Bearer"]);
  if (g.chance(0.1)) headers["accept"] = g.pick(["text/event-stream", "*/*", "application/json", "text/html"]);
  if (g.chance(0.05)) headers["x-forwarded-for"] = "10.0.0.1";

  // Now and then a submit that is valid: dispatches exist, run and end while the fuzz goes on.
  if (g.chance(0.002)) {
    return { method: "POST", path: `${API_PREFIX}/dispatches`, headers: { "content-type": "application/json" }, body: Buffer.from(JSON.stringify(validSubmit())), note: `#${index} valid submit` };
  }
  // A bundle upload whose bytes match its hash (some over maxBundleBytes), sometimes by many clients at once.
  if (g.chance(0.03)) {
    const bytes = g.chance(0.3) ? Buffer.from(EMPTY_BUNDLE) : g.bytes(g.int(0, MAX_BUNDLE_BYTES * 2));
    const burst = g.chance(0.3) ? g.int(8, 24) : 1;
    return { method: "PUT", path: `${API_PREFIX}/${g.pick(["bundles", "bundles", "blobs"])}/${sha256(bytes)}`, headers, body: bytes, burst, note: `#${index} matching upload of ${bytes.length} bytes${burst > 1 ? `, ${burst} at once` : ""}` };
  }
  // A body far over the limits, with or without its length up front: refused early, never buffered whole.
  if (g.chance(0.01)) {
    const body = HUGE.subarray(0, g.int(MAX_JSON_BYTES * 4, HUGE.length));
    const target = g.pick([`${API_PREFIX}/dispatches`, `${API_PREFIX}/dispatches/{id}/cancel`, `${API_PREFIX}/bundles/${g.chars(64, HEX)}`, `${API_PREFIX}/blobs/${g.chars(64, HEX)}`]);
    const method = target.includes("/bundles/") || target.includes("/blobs/") ? "PUT" : "POST";
    return {
      method,
      path: target,
      headers: { "content-type": "application/json", ...(g.chance(0.5) ? { "transfer-encoding": "chunked" } : {}) },
      body,
      ownConnection: true,
      note: `#${index} huge body of ${body.length} bytes`,
    };
  }
  // Half aim at a route with its own method, so that bodies get past the router to the checks behind it.
  const aimed = g.chance(0.5) ? g.pick(AIMED)(g) : undefined;
  if (aimed?.json) headers["content-type"] = g.chance(0.9) ? "application/json" : (headers["content-type"] ?? "");
  const method = aimed?.method ?? g.pick(["GET", "GET", "POST", "POST", "POST", "PUT", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]);
  const p = aimed?.path ?? path(g);
  let body: Buffer | undefined;
  let note = aimed ? "aimed" : "";
  if (aimed?.body) ({ body, note } = aimed.body());
  else if (method !== "GET" && method !== "HEAD" && g.chance(0.85)) ({ body, note } = jsonBody(g));
  if (body && g.chance(0.3)) headers["transfer-encoding"] = "chunked";
  return { method, path: p, headers, ...(body ? { body } : {}), note: `#${index} ${method} ${p.length > 200 ? `${p.slice(0, 200)}…(${p.length})` : p} ${note}` };
}

// ---------------------------------------------------------------- sending and checking

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

/** `agent` false: a connection of its own (a burst must not queue behind the shared sockets). */
function send(port: number, agent: Agent | false, r: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...r.headers };
    if (r.body && !headers["transfer-encoding"]) headers["content-length"] = String(r.body.length);
    const req = request({ host: "127.0.0.1", port, method: r.method, path: r.path, headers, agent }, (res) => {
      const contentType = String(res.headers["content-type"] ?? "");
      // A live event stream never ends by itself: its status and type are the answer.
      if (contentType.startsWith("text/event-stream")) {
        res.destroy();
        resolve({ status: res.statusCode ?? 0, contentType, text: "" });
        return;
      }
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms (a hang)`)));
    req.on("error", reject);
    // A huge body refused early: the server answers and closes while this side still writes.
    // The write's EPIPE then comes after the answer, when the socket no longer reports to `req`.
    req.on("socket", (socket) => socket.on("error", () => undefined));
    req.end(r.body);
  });
}

/** GET and HEAD outside /api/ go to the dashboard's files (static-ui.ts), whose errors are plain text. */
function isDashboardPage(r: FuzzRequest): boolean {
  return (r.method === "GET" || r.method === "HEAD") && !new URL(r.path, "http://x").pathname.startsWith("/api/");
}

/** Why this answer breaks the API's contract, or null if it does not. */
function problem(r: FuzzRequest, a: Answer): string | null {
  if (a.status >= 500) return `a ${a.status}: ${a.text.slice(0, 500)}`;
  if (a.status < 100) return `no status`;
  if (a.text.includes(SECRET) || a.text.includes("SQLite format")) return `a file outside the served directories leaked: ${a.text.slice(0, 200)}`;
  if (a.status >= 200 && a.status < 300) return null;
  if (isDashboardPage(r)) return null;
  if (r.method === "HEAD") return a.text === "" ? null : `HEAD answered with a body`;
  let body: unknown;
  try {
    body = JSON.parse(a.text);
  } catch {
    return `a ${a.status} whose body is not JSON (${a.contentType}): ${a.text.slice(0, 300)}`;
  }
  const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!e || typeof e.code !== "string" || !e.code || typeof e.message !== "string" || !e.message) {
    return `a ${a.status} whose body is not { error: { code, message } }: ${a.text.slice(0, 300)}`;
  }
  if (!/^application\/json/.test(a.contentType)) return `a ${a.status} JSON error sent as ${a.contentType}`;
  return null;
}

/** Uploads ANSWER_BUNDLE, dispatches its electron, waits for the result: the task's output. */
async function realDispatch(port: number, headers: Record<string, string> = {}): Promise<unknown> {
  const url = `http://127.0.0.1:${port}${API_PREFIX}`;
  const put = await fetch(`${url}/bundles/${sha256(ANSWER_BUNDLE)}`, { method: "PUT", headers, body: ANSWER_BUNDLE });
  assert.ok(put.status === 201 || put.status === 200, `bundle upload: ${put.status} ${await put.text()}`);
  const body = { ...validSubmit(), bundleHash: sha256(ANSWER_BUNDLE), nodes: [{ ...paramNode(0), kind: "electron", name: "answer", electronId: "wf.ts#answer", executor: '"inline"', output: null }] };
  const res = await fetch(`${url}/dispatches`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  const id = (JSON.parse(text) as { dispatchId: string }).dispatchId;
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${url}/dispatches/${id}/result?wait=true`, { headers });
    const reply = (await r.json()) as { dispatch: { status: string }; nodes: Array<{ output: string | null }> };
    if (reply.dispatch.status === "COMPLETED") return decode(reply.nodes[0]?.output ?? "null");
    assert.ok(!["FAILED", "CANCELLED"].includes(reply.dispatch.status), `the real dispatch ended ${reply.dispatch.status}`);
  }
  throw new Error(`the real dispatch ${id} did not complete`);
}

function listTree(dir: string, prefix = ""): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? [`${prefix}${e.name}/`, ...listTree(join(dir, e.name), `${prefix}${e.name}/`)] : [`${prefix}${e.name}`],
  );
}

describe(`HTTP API fuzz (seed ${SEED}, ${COUNT} requests)`, () => {
  let root: string;
  let dataDir: string;
  let server: RunningServer;
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  let subscriptions = 0;
  let restoreHub = () => {};

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "valence-fuzz-"));
    dataDir = join(root, "data");
    writeFileSync(join(root, "secret.txt"), SECRET);
    // A built dashboard of two files, so that pages outside /api/ are served (not "not built").
    mkdirSync(join(root, "ui", "assets"), { recursive: true });
    writeFileSync(join(root, "ui", "index.html"), "<!doctype html><title>Valence</title>");
    writeFileSync(join(root, "ui", "assets", "app.js"), "export {};");
    process.env["VALENCE_UI_DIR"] = join(root, "ui");
    server = await startServer({ dataDir, port: 0, log: () => {}, limits: { longPollMs: LONG_POLL_MS, maxJsonBytes: MAX_JSON_BYTES, maxBundleBytes: MAX_BUNDLE_BYTES } });
    process.on("unhandledRejection", onUncaught);
    process.on("uncaughtException", onUncaught);
    // Every live-event stream and long poll subscribes to the hub; each must let go when its client does.
    const subscribe = EventHub.prototype.subscribe;
    EventHub.prototype.subscribe = function (this: EventHub, ...args: Parameters<EventHub["subscribe"]>) {
      const unsubscribe = subscribe.apply(this, args);
      subscriptions++;
      let done = false;
      return () => {
        if (!done) subscriptions--;
        done = true;
        unsubscribe();
      };
    };
    restoreHub = () => void (EventHub.prototype.subscribe = subscribe);
  });
  after(async () => {
    restoreHub();
    process.off("unhandledRejection", onUncaught);
    process.off("uncaughtException", onUncaught);
    delete process.env["VALENCE_UI_DIR"];
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("answers every random request with a status below 500 and, if it refuses, the JSON error shape; the store stays intact", async () => {
    const port = server.info.port;
    const g = new Gen(prng(SEED));
    const requests = Array.from({ length: COUNT }, (_, i) => makeRequest(g, i));
    // Dispatches to aim at from the start: two that end at once, one that runs until cancelled.
    const ids: string[] = [];
    /** Dispatches the fuzz itself deleted through the API. */
    const deleted = new Set<string>();
    const url = `http://127.0.0.1:${port}${API_PREFIX}`;
    for (const bundle of [EMPTY_BUNDLE, SLOW_BUNDLE]) {
      assert.equal((await fetch(`${url}/bundles/${sha256(bundle)}`, { method: "PUT", body: bundle })).status, 201);
    }
    for (const blob of [GOOD_BLOB, BAD_BLOB]) {
      assert.equal((await fetch(`${url}/blobs/${sha256(blob)}`, { method: "PUT", body: blob })).status, 201);
    }
    const slow = { ...validSubmit(), bundleHash: sha256(SLOW_BUNDLE), nodes: [{ ...paramNode(0), kind: "electron", electronId: "wf.ts#e", executor: '"inline"', output: null }] };
    for (const body of [validSubmit(), validSubmit(), slow]) {
      const res = await fetch(`${url}/dispatches`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const text = await res.text();
      assert.equal(res.status, 201, text);
      ids.push((JSON.parse(text) as { dispatchId: string }).dispatchId);
    }
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const started = Date.now();
    const rssBefore = process.memoryUsage().rss;
    let next = 0;
    const worker = async () => {
      while (next < requests.length && failures.length < 20) {
        const i = next++;
        const fuzz = requests[i] as FuzzRequest;
        // Ids the server gave out stand in for `{id}`.
        const known = ids[(i * 7919) % ids.length] as string;
        const r = { ...fuzz, path: fuzz.path.replaceAll("{id}", known) };
        let answers: Answer[];
        try {
          answers = r.burst && r.burst > 1 ? await Promise.all(Array.from({ length: r.burst }, () => send(port, false, r))) : [await send(port, r.ownConnection ? false : agent, r)];
        } catch (error) {
          failures.push(`${r.note}: ${(error as Error).message}`);
          continue;
        }
        for (const a of answers) {
          statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
          const why = problem(r, a);
          if (why) failures.push(`${r.note} (path ${r.path.slice(0, 300)}): ${why}`);
          if (a.status === 201 && a.text.includes("dispatchId")) ids.push((JSON.parse(a.text) as { dispatchId: string }).dispatchId);
          // A DELETE that landed on a finished dispatch (DELETE /dispatches/:id) took it and its sublattice runs away.
          if (r.method === "DELETE" && a.status === 200 && a.text.includes('"deleted"')) for (const id of (JSON.parse(a.text) as { deleted: string[] }).deleted) deleted.add(id);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    const rssGrowthMb = Math.round((process.memoryUsage().rss - rssBefore) / 2 ** 20);
    const summary = `seed ${SEED} (rerun with VALENCE_FUZZ_SEED=${SEED}): ${next} requests in ${Date.now() - started} ms, RSS +${rssGrowthMb} MB, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}, ${ids.length} dispatches made`;
    assert.deepEqual(failures, [], summary);
    assert.deepEqual(uncaught, [], `${summary}: the server process had uncaught errors`);
    // Bodies are refused at their limit, never buffered whole: dozens of 8 MB ones leave no trace.
    assert.ok(rssGrowthMb < 256, `${summary}: the server's memory grew by ${rssGrowthMb} MB`);

    // No stream or long poll still follows the hub for a client that has gone.
    for (let waited = 0; subscriptions > 0 && waited < 3000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    assert.equal(subscriptions, 0, `${summary}: event-hub subscriptions outlived their requests`);

    // Still up, and every bundle on disk is whole: named by the sha256 of its bytes, no upload left half-written.
    const health = await fetch(`http://127.0.0.1:${port}${API_PREFIX}/health`);
    assert.equal(health.status, 200, summary);
    for (const [dir, name] of [["bundles", /^[0-9a-f]{64}\.mjs$/], ["blobs", /^[0-9a-f]{64}$/]] as const) {
      for (const f of listTree(join(dataDir, dir))) {
        assert.match(f, name, `${summary}: stray file in DATA_DIR/${dir}: ${f}`);
        assert.equal(sha256(readFileSync(join(dataDir, dir, f))), f.slice(0, 64), `${summary}: ${dir}/${f} does not hold the bytes of its hash`);
      }
    }
    // Nothing was written beside the data dir (a `..` that got through).
    assert.deepEqual(listTree(root).filter((f) => !f.startsWith("data/") && !f.startsWith("ui/")), ["secret.txt"], summary);
    assert.deepEqual(listTree(join(root, "ui")), ["assets/", "assets/app.js", "index.html"], summary);
    console.log(`# fuzz: ${summary}`);

    // And it still runs a real dispatch: a task in a runner, its output stored and served.
    assert.equal(await realDispatch(port), 42, summary);

    await server.close();
    const db = new Database(join(dataDir, "valence.db"), { readonly: true, fileMustExist: true });
    try {
      assert.equal(db.pragma("integrity_check", { simple: true }), "ok", summary);
      // Every dispatch made is still stored, but those a DELETE request removed, which are gone.
      const stored = new Set((db.prepare("SELECT id FROM dispatches").pluck().all() as string[]));
      assert.deepEqual(ids.filter((id) => !deleted.has(id) && !stored.has(id)), [], summary);
      assert.deepEqual([...deleted].filter((id) => stored.has(id)), [], `${summary}: a deleted dispatch is still stored`);
    } finally {
      db.close();
    }
  });
});

const TOKEN = "fuzz-token-6c1d0e";
const TOKEN_COUNT = Number(process.env["VALENCE_FUZZ_TOKEN_N"] ?? 1000);

/**
 * What a client may put in `Authorization`: the right header, or one of the ways to get it
 * wrong. (Trailing white space is not one: HTTP strips it from every header value.)
 */
function authorization(g: Gen): { header: string | undefined; right: boolean } {
  if (g.chance(0.4)) return { header: `Bearer ${TOKEN}`, right: true };
  const header = g.pick([
    undefined,
    "",
    "Bearer",
    "Bearer ",
    `Bearer ${TOKEN}x`,
    `bearer ${TOKEN}`,
    `Basic ${Buffer.from(`user:${TOKEN}`).toString("base64")}`,
    `Bearer ${TOKEN.slice(0, -1)}`,
    `Bearer ${g.chars(32, B36)}`,
    `Bearer ${"A".repeat(g.int(1000, 6000))}`,
    TOKEN,
  ]);
  return { header, right: false };
}

describe(`HTTP API fuzz with a token (seed ${SEED}, ${TOKEN_COUNT} requests)`, () => {
  let root: string;
  let server: RunningServer;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "valence-fuzz-token-"));
    server = await startServer({ dataDir: join(root, "data"), port: 0, token: TOKEN, log: () => {}, limits: { longPollMs: LONG_POLL_MS, maxJsonBytes: MAX_JSON_BYTES, maxBundleBytes: MAX_BUNDLE_BYTES } });
  });
  after(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("refuses every /api/ request without the right token with a 401 JSON error, and serves the right one as ever", async () => {
    const port = server.info.port;
    const g = new Gen(prng(SEED + 1));
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const failures: string[] = [];
    const statuses = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      while (next < TOKEN_COUNT && failures.length < 20) {
        const i = next++;
        const made = makeRequest(g, i);
        const auth = authorization(g);
        const headers = { ...made.headers };
        delete headers["authorization"];
        if (auth.header !== undefined) headers["authorization"] = auth.header;
        // No dispatch ids are known here: `{id}` stands for one that does not exist.
        const r: FuzzRequest = { ...made, headers, path: made.path.replaceAll("{id}", "dsp_0000000000000000000") };
        let answers: Answer[];
        try {
          answers = await Promise.all(Array.from({ length: r.burst ?? 1 }, () => send(port, r.ownConnection || (r.burst ?? 1) > 1 ? false : agent, r)));
        } catch (error) {
          failures.push(`${r.note}: ${(error as Error).message}`);
          continue;
        }
        const underApi = r.path.startsWith(`${API_PREFIX}/`) && new URL(r.path, "http://x").pathname.startsWith(`${API_PREFIX}/`);
        for (const a of answers) {
          const key = `${auth.right ? "right" : "wrong"} ${a.status}`;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
          const why = problem(r, a);
          if (why) failures.push(`${r.note} (auth ${JSON.stringify(auth.header?.slice(0, 40))}): ${why}`);
          else if (underApi && !auth.right && a.status !== 401) failures.push(`${r.note} (auth ${JSON.stringify(auth.header?.slice(0, 40))}): a ${a.status} without the right token`);
          else if (underApi && !auth.right && r.method !== "HEAD" && !a.text.includes('"UNAUTHORIZED"')) failures.push(`${r.note}: a 401 without the UNAUTHORIZED code: ${a.text.slice(0, 200)}`);
          else if (auth.right && a.status === 401) failures.push(`${r.note}: a 401 with the right token`);
          if (a.text.includes(TOKEN) && !r.body?.includes(TOKEN)) failures.push(`${r.note}: the token appears in a reply`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    const summary = `seed ${SEED} (rerun with VALENCE_FUZZ_SEED=${SEED}): ${next} requests, by token and status ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`;
    assert.deepEqual(failures, [], summary);
    assert.ok((statuses.get("wrong 401") ?? 0) > TOKEN_COUNT / 10, `${summary}: too few refusals to mean anything`);
    console.log(`# fuzz with a token: ${summary}`);

    // A real dispatch: refused without the token, run with it.
    const refused = await fetch(`http://127.0.0.1:${port}${API_PREFIX}/dispatches`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(validSubmit()) });
    assert.equal(refused.status, 401);
    assert.equal(await realDispatch(port, { authorization: `Bearer ${TOKEN}` }), 42, summary);
  });
});
