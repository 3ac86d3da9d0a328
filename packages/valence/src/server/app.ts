/**
 * The HTTP API (Hono): versioned JSON routes over the store, bundle uploads
 * streamed to disk (and, on a team server, kept in the team's database: see
 * bundles.ts), and live events as server-sent events. Handlers stay
 * thin: validation at the edge, then the store, the supervisor or the hub.
 * Every error leaves as `{ error: { code, message } }`.
 */
import { timingSafeEqual } from "node:crypto";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { API_PREFIX, type DispatchSummary, type HealthReply, type ListReply, type ResultReply, type SubmitReply } from "../api/wire.js";
import { NodeNotFoundError } from "../errors.js";
import { isTerminal, type Status } from "../status.js";
import type { DispatchRecord, NodeRecord } from "../engine/store/records.js";
import type { Store } from "../engine/store/store.js";
import { blobExists, receiveBlob } from "./blobs.js";
import type { EventHub } from "./event-hub.js";
import { BadRequestError, DispatchFinishedError, NotFoundError, PayloadTooLargeError, UnauthorizedError, toErrorReply } from "./http-errors.js";
import { cancelSchema, redispatchSchema, submitSchema } from "./schemas.js";
import { intQuery, jsonBody, parse, parseJson } from "./request.js";
import { dispatchTriggerRoute, triggerRoutes } from "./triggers/trigger-routes.js";
import type { TriggerService } from "./triggers/trigger-service.js";
import { dispatchOf } from "./dispatch-of.js";
import { followDispatch, followEverything } from "./sse.js";
import { bundlePathOf, storeSubmission } from "./submissions.js";
import { storeRedispatch } from "../engine/redispatch.js";
import { planDelete, purge } from "../engine/purge.js";
import type { Supervisor } from "./supervisor.js";
import type { TeamMember } from "./team.js";
import { waitForEnd } from "./wait.js";
import { readTaskOutput, type TaskOutput } from "../engine/task-output.js";

export interface AppOptions {
  readonly store: Store;
  readonly supervisor: Supervisor;
  readonly hub: EventHub;
  readonly version: string;
  readonly startedAt: number;
  /** When set, every request needs `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
  /** Largest JSON body accepted (bytes). */
  readonly maxJsonBytes?: number;
  /** Largest code bundle accepted (bytes). */
  readonly maxBundleBytes?: number;
  /** Longest a `?wait=true` request is held before it answers with the current state (ms). */
  readonly longPollMs?: number;
  /** How the store is shown: "sqlite", or a Postgres URL with its password masked. */
  readonly storeLabel?: string;
  /** This server's part in a team sharing one database; settles once it has joined (undefined: a server on its own). */
  readonly team?: Promise<TeamMember | undefined>;
  /** Served at GET /metrics (Prometheus text format), behind the token like the API. */
  readonly metrics?: { render(): Promise<{ body: string; contentType: string }> };
  /** The server's triggers (`/triggers`); absent: the routes are not served. */
  readonly triggers?: TriggerService;
}

export const DEFAULT_MAX_JSON_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_BUNDLE_BYTES = 256 * 1024 * 1024;

export function createApp(opts: AppOptions): Hono {
  const { store, supervisor, hub } = opts;
  const bundles = supervisor.bundles;
  const maxJson = opts.maxJsonBytes ?? DEFAULT_MAX_JSON_BYTES;
  const app = new Hono();

  app.onError((error, c) => {
    const { status, body } = toErrorReply(error);
    return c.json(body, status as 400);
  });
  app.notFound((c) => {
    // A known path asked with a method it does not take: 405, saying which it takes.
    const allowed = methodsFor(app, c.req.path);
    if (allowed.length) {
      c.header("allow", allowed.join(", "));
      return c.json({ error: { code: "METHOD_NOT_ALLOWED", message: `${c.req.path} takes ${allowed.join(", ")}, not ${c.req.method}` } }, 405);
    }
    return c.json({ error: { code: "NOT_FOUND", message: `no route ${c.req.method} ${c.req.path}` } }, 404);
  });

  if (opts.token) {
    const expected = Buffer.from(`Bearer ${opts.token}`);
    app.use("*", async (c, next) => {
      const given = Buffer.from(c.req.header("authorization") ?? "");
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new UnauthorizedError("this server needs its token: send `Authorization: Bearer <token>` (the token is in the server's data dir, file server.token, or VALENCE_TOKEN)");
      }
      await next();
    });
  }

  const jsonLimit = bodyLimit({
    maxSize: maxJson,
    onError: () => {
      throw new PayloadTooLargeError(`request body over ${maxJson} bytes; large values belong in files, not in arguments`);
    },
  });

  // Where Prometheus looks by default; the token rule above applies (a scrape config sends it with `authorization: { credentials_file: … }`).
  const metrics = opts.metrics;
  if (metrics) {
    app.get("/metrics", async (c) => {
      const { body, contentType } = await metrics.render();
      return c.body(body, 200, { "content-type": contentType });
    });
  }

  const api = new Hono();

  api.get("/health", async (c) => {
    const team = (await opts.team) && store.cluster ? (await store.cluster.servers()).map((s) => s.url) : undefined;
    const reply: HealthReply = { ok: true, version: opts.version, pid: process.pid, startedAt: opts.startedAt, dataDir: store.dataDir, running: supervisor.running };
    return c.json<HealthReply>({ ...reply, ...(opts.storeLabel ? { store: opts.storeLabel } : {}), ...(team ? { team } : {}) });
  });

  // Hono answers HEAD with the GET route, body dropped: a HEAD-only route would never match.
  // A team server has a bundle another server of the team received: it is fetched into this data dir.
  api.get("/bundles/:hash", async (c) => {
    const hash = c.req.param("hash");
    if (!(await bundles.here(hash))) throw new NotFoundError(`no bundle "${hash}" on this server; upload it with PUT ${API_PREFIX}/bundles/<sha256>`);
    return c.body(null, 200);
  });
  // Answered once the bundle is on disk and (a team server) in the team's database.
  api.put("/bundles/:hash", async (c) => {
    await bundles.receive(c.req.param("hash"), c.req.raw.body, opts.maxBundleBytes ?? DEFAULT_MAX_BUNDLE_BYTES);
    return c.json({ ok: true }, 201);
  });

  // Large values sent with a dispatch, uploaded first (see BLOB_THRESHOLD_BYTES); same size limit as bundles.
  api.get("/blobs/:hash", (c) => {
    const hash = c.req.param("hash");
    if (!blobExists(store.dataDir, hash)) throw new NotFoundError(`no value "${hash}" on this server; upload it with PUT ${API_PREFIX}/blobs/<sha256>`);
    return c.body(null, 200);
  });
  api.put("/blobs/:hash", async (c) => {
    await receiveBlob(store.dataDir, c.req.param("hash"), c.req.raw.body, opts.maxBundleBytes ?? DEFAULT_MAX_BUNDLE_BYTES);
    return c.json({ ok: true }, 201);
  });

  api.post("/dispatches", jsonLimit, async (c) => {
    const body = parse(submitSchema, await jsonBody(c));
    // Fetched from the team if another server received it; and kept by the team before the dispatch is stored.
    if (body.bundleHash && (await bundles.here(body.bundleHash))) await bundles.share(body.bundleHash);
    const id = await storeSubmission(store, body);
    await (await opts.team)?.claim(id);
    // Followers (the dashboard's list) learn of it now, not when its runner first reports.
    hub.publish({ dispatchId: id, at: Date.now(), nodes: [], status: "NEW_OBJECT" });
    void supervisor.start(id);
    return c.json<SubmitReply>({ dispatchId: id }, 201);
  });

  api.get("/dispatches", async (c) => {
    const limit = intQuery(c.req.query("limit"), "limit", 50, 1, 1000);
    const status = c.req.query("status");
    const rows = (await store.listDispatches(limit)).filter((d) => !status || d.status === status);
    return c.json<ListReply>({ dispatches: rows.map(summary) });
  });

  api.get("/dispatches/:id", async (c) => c.json(summary(await dispatchOf(store, c.req.param("id")))));

  api.get("/dispatches/:id/result", async (c) => {
    let d = await dispatchOf(store, c.req.param("id"));
    if (c.req.query("wait") === "true" && !isTerminal(d.status)) {
      await waitForEnd(hub, store, d.id, opts.longPollMs ?? 25_000, c.req.raw.signal);
      d = await dispatchOf(store, d.id);
    }
    const statusOnly = c.req.query("statusOnly") === "true";
    // Outputs kept in files travel inline: the client has no access to the server's disk.
    // getNodes builds fresh records: they are filled in place rather than copied (10k nodes).
    const nodes = statusOnly ? [] : ((await store.getNodes(d.id)) as Array<{ -readonly [K in keyof NodeRecord]: NodeRecord[K] }>);
    for (const n of nodes) {
      if (n.outputFile === null) continue;
      n.output = await store.readOutput(n);
      n.outputFile = null;
    }
    return c.json<ResultReply>({ dispatch: d, nodes });
  });

  // A finished dispatch and its sublattice runs, gone from the store and the results dir (the dashboard's Delete).
  api.delete("/dispatches/:id", async (c) => {
    const d = await dispatchOf(store, c.req.param("id"));
    const plan = await planDelete(store, d);
    await purge(store, plan);
    // Whoever follows it, or the list, hears it went.
    hub.publishDeleted(plan.dispatchIds);
    return c.json({ deleted: plan.dispatchIds, bytes: plan.bytes });
  });

  api.post("/dispatches/:id/cancel", jsonLimit, async (c) => {
    const d = await dispatchOf(store, c.req.param("id"));
    const text = await c.req.text();
    const body = text.trim() ? parse(cancelSchema, parseJson(text)) : {};
    const bad = (body.nodes ?? []).filter((n) => n >= d.nodeCount);
    if (bad.length) throw NodeNotFoundError.outside(d.id, d.nodeCount, bad);
    if (isTerminal(d.status)) throw new DispatchFinishedError(`dispatch ${d.id} already ${d.status}; there is nothing to cancel`);
    // Driven by another server of the team: it is asked to.
    const sent = supervisor.cancel(d.id, body.nodes) || ((await (await opts.team)?.cancelElsewhere(d.id, body.nodes)) ?? false);
    return c.json({ cancelled: sent, status: d.status });
  });

  api.post("/dispatches/:id/redispatch", jsonLimit, async (c) => {
    const d = await dispatchOf(store, c.req.param("id"));
    const body = parse(redispatchSchema, await jsonBody(c));
    const replacements = [];
    for (const r of body.replaceElectrons ?? []) {
      if (r.bundleHash) {
        if (!(await bundles.here(r.bundleHash))) {
          throw new BadRequestError(`replaceElectrons: no bundle ${r.bundleHash} on the server; upload it first (PUT ${API_PREFIX}/bundles/${r.bundleHash})`);
        }
        await bundles.share(r.bundleHash);
      }
      const bundlePath = r.bundleHash ? bundlePathOf(store.dataDir, r.bundleHash) : null;
      replacements.push({ name: r.name, electronId: r.electronId, executor: r.executor, bundlePath, source: r.source });
    }
    const id = await storeRedispatch(store, d.id, { reusePreviousResults: body.reusePreviousResults, replacements });
    await (await opts.team)?.claim(id);
    hub.publish({ dispatchId: id, at: Date.now(), nodes: [], status: "NEW_OBJECT" });
    // The rest of its code is the earlier dispatch's, which another server of the team may have received.
    void supervisor.start(id, { fromAnotherServer: store.cluster !== undefined });
    return c.json<SubmitReply>({ dispatchId: id }, 201);
  });

  api.get("/dispatches/:id/nodes/:node/output", async (c) => {
    const d = await dispatchOf(store, c.req.param("id"));
    const node = intQuery(c.req.param("node"), "the node id in the path", 0, 0, Number.MAX_SAFE_INTEGER);
    const after = intQuery(c.req.query("after"), "after", 0, 0, Number.MAX_SAFE_INTEGER);
    return c.json<TaskOutput>(await readTaskOutput(store, d.id, node, after));
  });

  api.get("/dispatches/:id/events", async (c) => {
    const d = await dispatchOf(store, c.req.param("id"));
    return c.req.method === "HEAD" ? streamHead(c) : followDispatch(c, hub, store, d);
  });
  api.get("/events", (c) => (c.req.method === "HEAD" ? streamHead(c) : followEverything(c, hub)));

  if (opts.triggers) {
    api.route("/triggers", triggerRoutes(opts.triggers, store, jsonLimit));
    dispatchTriggerRoute(api, opts.triggers, store);
  }

  app.route(API_PREFIX, api);
  return app;
}

/**
 * HEAD of a live stream: its headers, and no stream. A stream opened for HEAD
 * is never read, so it would never learn that its client left: it would stay
 * subscribed, queueing every change, for as long as the server runs.
 */
function streamHead(c: Context): Response {
  return c.body(null, 200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
}

function summary(d: DispatchRecord): DispatchSummary {
  const { id, parentId, name, status, createdAt, startedAt, endedAt, nodeCount, nodesDone } = d;
  return { id, parentId, name, status: status as Status, createdAt, startedAt, endedAt, nodeCount, nodesDone };
}

/** The methods the app's routes take at `path` (GET implies HEAD); none when no route has that path. */
function methodsFor(app: Hono, path: string): string[] {
  const methods = new Set<string>();
  for (const r of app.routes) {
    if (r.method === "ALL" || r.path.includes("*")) continue; // middleware, not a route
    const pattern = new RegExp(`^${r.path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:[A-Za-z_]\w*/g, "[^/]+")}/?$`);
    if (pattern.test(path)) methods.add(r.method);
  }
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].sort();
}
