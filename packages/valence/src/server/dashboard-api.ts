/**
 * Read routes for the web dashboard (`packages/ui`), mounted at
 * `/api/v1/dashboard`: what the public API leaves to the client but a browser
 * should not have to do itself — counts, paginated search, a graph without
 * outputs (or, for a large dispatch, its nodes in groups — see
 * dashboard-groups.ts — and a page of one group's nodes at a time), one
 * node's details with values decoded and pretty-printed, the
 * server log's tail, the effective config. Read-only: cancel and redispatch
 * are the public API's routes. Secrets in executor options are masked here,
 * so they never reach a browser.
 */
import { Hono } from "hono";
import { formatConfig, loadConfig } from "../engine/config/index.js";
import { readResult } from "../engine/read-result.js";
import type { DispatchRecord, NodeRecord } from "../engine/store/records.js";
import type { Store } from "../engine/store/store.js";
import { STATUSES, type Status } from "../status.js";
import { serverLogFile } from "../client/server-file.js";
import { BadRequestError, NotFoundError, toErrorReply } from "./http-errors.js";
import { dispatchOf } from "./dispatch-of.js";
import { dispatchView, edgeLabel, errorView, executorOf, preview, prettyValue, shortValue } from "./dashboard-views.js";
import { SMALL_GRAPH_NODES } from "./dashboard-groups.js";
import { GroupCache } from "./dashboard-group-cache.js";
import { groupNodesPage, groupOfParam, parseGroupsQuery, parseNodesQuery } from "./dashboard-group-pages.js";
import { groupsReply } from "./dashboard-group-stats.js";
import { readLog } from "./log-tail.js";
import { timelineReply } from "./dashboard-timeline.js";

/** Where the dashboard's routes live, under the API prefix. */
export const DASHBOARD_PATH = "/dashboard";

export interface DashboardApiOptions {
  readonly store: Store;
  /** The server's config environment (tests pass their own). */
  readonly env?: NodeJS.ProcessEnv;
}

export function createDashboardApi({ store, env }: DashboardApiOptions): Hono {
  const api = new Hono();
  const groups = new GroupCache(store);
  api.onError((error, c) => {
    const { status, body } = toErrorReply(error);
    return c.json(body, status as 400);
  });

  api.get("/summary", async (c) => {
    const counts = await store.countByStatus();
    const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
    return c.json({ total, counts });
  });

  // Polled by the list four times a second: one index lookup, so a dispatch shows up before its runner's first change.
  api.get("/head", async (c) => c.json({ newest: await store.newestDispatch() }));

  api.get("/dispatches", async (c) => {
    const limit = intQuery(c.req.query("limit"), "limit", 50, 1, 500);
    const offset = intQuery(c.req.query("offset"), "offset", 0, 0, Number.MAX_SAFE_INTEGER);
    const statuses = (c.req.query("status") ?? "").split(",").filter(Boolean);
    const bad = statuses.find((s) => !(STATUSES as readonly string[]).includes(s));
    if (bad) throw new BadRequestError(`status: "${bad}" is not a status (one of ${STATUSES.join(", ")})`);
    const search = (c.req.query("q") ?? "").trim();
    const { total, rows } = await store.findDispatches({ statuses: statuses as Status[], search, limit, offset });
    return c.json({ total, offset, limit, dispatches: rows });
  });

  api.get("/dispatches/:id/graph", async (c) => c.json(await graphReply(store, await dispatchOf(store, c.req.param("id")))));

  // What the first screen of a dispatch needs: a small graph node by node (as /graph), a large one as groups.
  api.get("/dispatches/:id/groups", async (c) => {
    const opts = parseGroupsQuery((k) => c.req.query(k));
    const d = await dispatchOf(store, c.req.param("id"));
    if (d.nodeCount <= SMALL_GRAPH_NODES) return c.json({ grouped: false, ...(await graphReply(store, d)) });
    const { shape, stats } = await groups.get(d);
    if (!shape.repeating) return c.json({ grouped: false, ...(await graphReply(store, d)) });
    return c.json({ grouped: true, dispatch: dispatchView(d), ...groupsReply(shape, stats, opts) });
  });

  api.get("/dispatches/:id/groups/:group/nodes", async (c) => {
    const q = parseNodesQuery((k) => c.req.query(k));
    const d = await dispatchOf(store, c.req.param("id"));
    const { shape, stats } = await groups.get(d);
    return c.json(groupNodesPage(shape, stats, groupOfParam(shape, c.req.param("group"), d.id), q));
  });

  // The task-stream timeline: every node that started, as columns (dashboard-timeline.ts).
  api.get("/dispatches/:id/timeline", async (c) => {
    const d = await dispatchOf(store, c.req.param("id"));
    return c.json(timelineReply(d, await store.getNodes(d.id)));
  });

  api.get("/dispatches/:id/nodes/:node", async (c) => {
    const d = await dispatchOf(store, c.req.param("id"));
    const all = await store.getNodes(d.id);
    const n = nodeOf(all, d, c.req.param("node"));
    const edges = (await store.getEdges(d.id)).filter((e) => e.target === n.nodeId);
    const inputs = await Promise.all(
      edges.map(async (e) => {
        const p = nodeById(all, e.source);
        return { param: edgeLabel(e.param), node: e.source, name: p?.name ?? "?", value: p ? shortValue(await store.readOutput(p)) : null };
      }),
    );
    const output = await store.readOutput(n);
    const source = n.electronId ? ((await store.getSources(d.id))[n.electronId] ?? null) : null;
    const sub = (await store.childDispatches(d.id)).find((x) => x.parentNode === n.nodeId);
    return c.json({
      dispatchId: d.id,
      nodeId: n.nodeId,
      name: n.name,
      kind: n.kind,
      status: n.status,
      executor: executorOf(n.executor),
      startedAt: n.startedAt,
      endedAt: n.endedAt,
      attempts: n.attempts,
      retries: n.retries,
      retryAt: n.retryAt,
      cachedFrom: n.cachedFrom ?? null,
      cache: n.cachePolicy ? (JSON.parse(n.cachePolicy) as { ttl: number | null; version?: string }) : null,
      timeoutMs: n.timeoutMs,
      source,
      inputs,
      output: output === null ? null : preview(prettyValue(output)),
      stdout: n.stdout ?? "",
      stderr: n.stderr ?? "",
      error: n.error === null ? null : errorView(n.error),
      subDispatchId: sub?.id ?? null,
    });
  });

  api.get("/dispatches/:id/nodes/:node/output", async (c) => {
    const d = await dispatchOf(store, c.req.param("id"));
    const n = nodeOf(await store.getNodes(d.id), d, c.req.param("node"));
    const output = await store.readOutput(n);
    if (output === null) throw new NotFoundError(`node ${n.nodeId} of ${d.id} has no output (status ${n.status})`);
    c.header("content-disposition", `attachment; filename="${d.id}-node-${n.nodeId}-output.txt"`);
    return c.text(prettyValue(output, Infinity));
  });

  api.get("/dispatches/:id/result-text", async (c) => {
    const d = await dispatchOf(store, c.req.param("id"));
    return c.json({ text: (await readResult(store, d.id)).toString() });
  });

  api.get("/log", (c) => {
    const after = c.req.query("after");
    return c.json(readLog(serverLogFile(store.dataDir), after === undefined ? undefined : intQuery(after, "after", 0, 0, Number.MAX_SAFE_INTEGER)));
  });

  api.get("/config", (c) => {
    try {
      return c.json({ text: formatConfig(loadConfig(env ? { env } : {})), error: null });
    } catch (error) {
      return c.json({ text: null, error: (error as Error).message });
    }
  });

  return api;
}

/** A dispatch's graph node by node, without outputs and logs: a graph of thousands of nodes stays a small reply. */
async function graphReply(store: Store, d: DispatchRecord) {
  const children = new Map<number, string>();
  for (const child of await store.childDispatches(d.id)) if (child.parentNode !== null) children.set(child.parentNode, child.id);
  const nodes = (await store.getNodes(d.id)).map((n) => ({
    nodeId: n.nodeId,
    kind: n.kind,
    name: n.name,
    status: n.status,
    startedAt: n.startedAt,
    endedAt: n.endedAt,
    attempts: n.attempts,
    retries: n.retries,
    retryAt: n.retryAt,
    cached: n.cachedFrom ? true : undefined,
    executor: executorOf(n.executor).name,
    subDispatchId: children.get(n.nodeId) ?? null,
  }));
  const edges = (await store.getEdges(d.id)).map((e) => ({ source: e.source, target: e.target, label: edgeLabel(e.param) }));
  return { dispatch: dispatchView(d), nodes, edges };
}

/** Node `raw` (a path segment) of the dispatch whose nodes are `nodes`. */
function nodeOf(nodes: readonly NodeRecord[], d: DispatchRecord, raw: string): NodeRecord {
  const id = Number(raw);
  if (!/^\d+$/.test(raw) || id >= d.nodeCount) throw new NotFoundError(`dispatch ${d.id} has nodes 0 to ${d.nodeCount - 1}; no node "${raw}"`);
  const row = nodeById(nodes, id);
  if (!row) throw new NotFoundError(`dispatch ${d.id} has no node ${id}`);
  return row;
}

/** Nodes come in id order and ids count from 0, so a node is found by index; the search is a safety net. */
function nodeById(nodes: readonly NodeRecord[], id: number): NodeRecord | undefined {
  const at = nodes[id];
  return at?.nodeId === id ? at : nodes.find((n) => n.nodeId === id);
}

function intQuery(raw: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new BadRequestError(`${name}: must be a whole number from ${min} to ${max}`);
  return n;
}
