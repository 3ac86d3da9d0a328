/**
 * The server's HTTP API and live events, as the dashboard uses them. The
 * dashboard talks to the server only through here: JSON over fetch, and
 * server-sent events read from a fetch stream (EventSource cannot send the
 * bearer token a non-loopback server asks for).
 */

export const API = "/api/v1";

export type Status =
  | "NEW_OBJECT"
  | "PENDING_REUSE"
  | "STARTING"
  | "RUNNING"
  | "COMPLETED"
  | "FAILED"
  | "CANCELLED"
  | "POSTPROCESSING"
  | "PENDING_POSTPROCESSING";

export interface DispatchRow {
  readonly id: string;
  readonly name: string;
  readonly status: Status;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly nodeCount: number;
  readonly nodesDone: number;
}

export interface ListReply {
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  readonly dispatches: readonly DispatchRow[];
}

export interface SummaryReply {
  readonly total: number;
  readonly counts: Partial<Record<Status, number>>;
}

export interface ErrorView {
  readonly name: string;
  readonly message: string;
  readonly stack: string;
}

export interface DispatchView extends DispatchRow {
  readonly parentId: string | null;
  readonly entryFile: string | null;
  readonly resultsDir: string;
  readonly inputs: string | null;
  readonly output: string | null;
  readonly error: ErrorView | null;
}

export interface GraphNode {
  readonly nodeId: number;
  readonly kind: string;
  readonly name: string;
  readonly status: Status;
  readonly executor: string;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly attempts: number;
  readonly retries: number;
  /** While a failed try waits out its retry backoff: when the next try is due (ms since the epoch). */
  readonly retryAt: number | null;
  readonly subDispatchId: string | null;
  /** Its output was reused from an earlier run (the result cache). */
  readonly cached?: true;
}

export interface GraphEdge {
  readonly source: number;
  readonly target: number;
  readonly label: string;
}

export interface GraphReply {
  readonly dispatch: DispatchView;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
}

/** The five colours a status is drawn in, as the grouped view counts them. */
export type Bucket = "completed" | "running" | "failed" | "pending" | "cancelled";
export type Counts = Readonly<Record<Bucket, number>>;

/** Repeated electrons in the same place of the graph, as one node (`inc × 5,000`). */
export interface GroupView {
  readonly id: number;
  readonly name: string;
  readonly kind: string;
  readonly electronId: string | null;
  readonly parameter: boolean;
  readonly size: number;
  /** The group's first node (the node itself in a group of one). */
  readonly firstNode: number;
  readonly executors: readonly string[];
  readonly counts: Counts;
  /** Durations (ms) of its finished nodes; null before one finishes. */
  readonly durations: { readonly finished: number; readonly min: number; readonly median: number; readonly max: number } | null;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  /** Nodes that took more than one attempt. */
  readonly retried: number;
}

export interface GroupEdge {
  readonly source: number;
  readonly target: number;
  /** How many node edges it stands for. */
  readonly count: number;
}

export interface GroupedReply {
  readonly grouped: true;
  readonly dispatch: DispatchView;
  readonly nodeCount: number;
  readonly counts: Counts;
  readonly parameters: { readonly shown: boolean; readonly groups: number; readonly nodes: number };
  readonly groups: readonly GroupView[];
  readonly edges: readonly GroupEdge[];
}

/** A small graph comes node by node (as `/graph`), a large one as groups. */
export type GroupsReply = GroupedReply | (GraphReply & { readonly grouped: false });

export type GroupSort = "nodeId" | "duration" | "status" | "attempts";

export interface GroupNodeRow {
  readonly nodeId: number;
  readonly status: Status;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly durationMs: number | null;
  readonly attempts: number;
  readonly executor: string;
}

export interface GroupNodesReply {
  readonly group: GroupView;
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  readonly sort: GroupSort;
  readonly order: "asc" | "desc";
  readonly status: readonly Status[];
  readonly nodes: readonly GroupNodeRow[];
}

export interface NodeDetails {
  readonly dispatchId: string;
  readonly nodeId: number;
  readonly name: string;
  readonly kind: string;
  readonly status: Status;
  readonly executor: { readonly name: string; readonly options: unknown };
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly attempts: number;
  readonly retries: number;
  /** While a failed try waits out its retry backoff: when the next try is due (ms since the epoch). */
  readonly retryAt: number | null;
  /** A cache hit: the dispatch and node whose output it reused. */
  readonly cachedFrom: { readonly dispatchId: string; readonly nodeId: number } | null;
  /** The electron's `cache` option, when it caches: how long a result lasts (ms; null until cleared). */
  readonly cache: { readonly ttl: number | null; readonly version?: string } | null;
  readonly timeoutMs: number | null;
  readonly source: string | null;
  readonly inputs: ReadonlyArray<{ readonly param: string; readonly node: number; readonly name: string; readonly value: string | null }>;
  readonly output: { readonly text: string; readonly truncated: boolean; readonly size: number } | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly error: ErrorView | null;
  readonly subDispatchId: string | null;
}

/** A node's printed output: while it runs, the chunks after `after`; once it has ended, the whole of it (see docs/api.md). */
export interface TaskOutputReply {
  readonly dispatchId: string;
  readonly node: number;
  readonly status: Status;
  readonly ended: boolean;
  /** While it runs: the chunks after `after`, in order. Empty once it has ended. */
  readonly chunks: ReadonlyArray<{ readonly stream: "stdout" | "stderr"; readonly text: string }>;
  /** Pass as `after` next time to get only newer chunks. */
  readonly next: number;
  /** Whole once `ended`; null before. */
  readonly stdout: string | null;
  readonly stderr: string | null;
  /** The try the chunks belong to: a retry's output starts again. */
  readonly attempt: number;
  /** While a failed try waits out its retry backoff: when the next try is due. */
  readonly retryAt: number | null;
}

export interface LogReply {
  readonly exists: boolean;
  readonly text: string;
  readonly offset: number;
  readonly size: number;
}

export interface RunChange {
  readonly dispatchId: string;
  readonly at: number;
  readonly nodes: ReadonlyArray<{ readonly node: number; readonly status: Status }>;
  readonly status?: Status;
}

export interface Snapshot {
  readonly dispatchId: string;
  readonly status: Status;
  readonly nodes: ReadonlyArray<{ readonly node: number; readonly name: string; readonly status: Status }>;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = "valence.token";

/** A token passed as `#token=…` is kept for this browser and removed from the address bar. */
export function adoptTokenFromUrl(): void {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m?.[1]) return;
  localStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
  history.replaceState(history.state, "", location.pathname + location.search);
}

export function setToken(token: string): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = localStorage.getItem(TOKEN_KEY);
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  return reply<T>(await fetch(API + path, { ...init, headers: headers(init.headers as Record<string, string> | undefined) }));
}

async function reply<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(`the server answered ${res.status} with something that is not JSON`, res.status, "BAD_REPLY");
  }
  if (!res.ok) {
    const e = (body as { error?: { code: string; message: string } }).error;
    throw new ApiError(e?.message ?? `HTTP ${res.status}`, res.status, e?.code ?? "HTTP_ERROR");
  }
  return body as T;
}

const json = (body: unknown): RequestInit => ({ method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
const enc = encodeURIComponent;

/** The task-stream timeline, as columns: the `i`-th entry of each array is the `i`-th bar, in start order (see docs/api.md). */
export interface TimelineReply {
  readonly dispatch: DispatchView;
  readonly now: number;
  readonly lanes: readonly string[];
  readonly electrons: readonly string[];
  readonly statuses: readonly Status[];
  readonly nodeId: readonly number[];
  readonly start: readonly number[];
  readonly end: ReadonlyArray<number | null>;
  /** Index into `lanes`; -1: unknown. */
  readonly lane: readonly number[];
  readonly electron: readonly number[];
  readonly status: readonly number[];
}

/** A trigger the server keeps (see docs/api.md, `/triggers`). */
export interface TriggerView {
  readonly id: string;
  readonly latticeName: string;
  readonly kind: "watch" | "every" | "cron";
  readonly spec: string;
  readonly timezone: string | null;
  readonly paused: boolean;
  readonly createdAt: number;
  readonly lastFireAt: number | null;
  readonly nextFireAt: number | null;
}

export interface TriggerFire {
  readonly key: string;
  readonly at: number;
  readonly dispatchId: string;
  /** null: the dispatch was deleted since. */
  readonly status: Status | null;
}

export interface TriggerReply {
  readonly trigger: TriggerView;
  readonly fires: readonly TriggerFire[];
}

export const api = {
  triggers: () => call<{ triggers: readonly TriggerView[] }>("/triggers"),
  trigger: (id: string) => call<TriggerReply>(`/triggers/${enc(id)}`),
  /** The trigger whose fire made this dispatch; nulls when none did. */
  firedBy: (dispatchId: string) => call<{ trigger: TriggerView | null; fire: TriggerFire | null }>(`/dispatches/${enc(dispatchId)}/trigger`),
  pauseTrigger: (id: string, paused: boolean) => call<TriggerReply>(`/triggers/${enc(id)}/${paused ? "pause" : "resume"}`, json({})),
  /** Removes a trigger; the dispatches its fires made stay. */
  removeTrigger: (id: string) => call<{ removed: string }>(`/triggers/${enc(id)}`, { method: "DELETE" }),
  summary: () => call<SummaryReply>("/dashboard/summary"),
  head: () => call<{ newest: string | null }>("/dashboard/head"),
  list: (p: { offset: number; limit: number; status: string; q: string }) =>
    call<ListReply>(`/dashboard/dispatches?offset=${p.offset}&limit=${p.limit}&status=${enc(p.status)}&q=${enc(p.q)}`),
  graph: (id: string) => call<GraphReply>(`/dashboard/dispatches/${enc(id)}/graph`),
  groups: (id: string, parameters: boolean) => call<GroupsReply>(`/dashboard/dispatches/${enc(id)}/groups${parameters ? "?parameters=true" : ""}`),
  groupNodes: (id: string, group: number, q: { offset: number; limit: number; sort: GroupSort; order: "asc" | "desc"; status: string }) =>
    call<GroupNodesReply>(
      `/dashboard/dispatches/${enc(id)}/groups/${group}/nodes?offset=${q.offset}&limit=${q.limit}&sort=${q.sort}&order=${q.order}&status=${enc(q.status)}`,
    ),
  timeline: (id: string) => call<TimelineReply>(`/dashboard/dispatches/${enc(id)}/timeline`),
  node: (id: string, node: number) => call<NodeDetails>(`/dashboard/dispatches/${enc(id)}/nodes/${node}`),
  taskOutput: (id: string, node: number, after: number) => call<TaskOutputReply>(`/dispatches/${enc(id)}/nodes/${node}/output?after=${after}`),
  outputUrl: (id: string, node: number) => `${API}/dashboard/dispatches/${enc(id)}/nodes/${node}/output`,
  resultText: (id: string) => call<{ text: string }>(`/dashboard/dispatches/${enc(id)}/result-text`),
  log: (after?: number) => call<LogReply>(`/dashboard/log${after === undefined ? "" : `?after=${after}`}`),
  config: () => call<{ text: string | null; error: string | null }>("/dashboard/config"),
  health: () => call<{ version: string; dataDir: string; running: number }>("/health"),
  cancel: (id: string, nodes?: number[]) => call<{ cancelled: boolean; status: Status }>(`/dispatches/${enc(id)}/cancel`, json(nodes ? { nodes } : {})),
  /** A finished dispatch, its sublattice runs and results dir, gone. */
  remove: (id: string) => call<{ deleted: string[]; bytes: number }>(`/dispatches/${enc(id)}`, { method: "DELETE" }),
  redispatch: (id: string, reusePreviousResults: boolean) =>
    call<{ dispatchId: string }>(`/dispatches/${enc(id)}/redispatch`, json({ reusePreviousResults })),
};

declare global {
  interface Window {
    /** Started by index.html before this code loads: the groups of the dispatch the page opens on. */
    __valencePrefetch?: { key: string; reply: Promise<Response> } | undefined;
  }
}

/** The groups of a dispatch: the reply index.html asked for while the code loaded (once), or a fresh fetch. */
export function takeGroups(id: string, parameters: boolean): Promise<GroupsReply> {
  const early = window.__valencePrefetch;
  if (early && early.key === `${id}|${parameters}`) {
    window.__valencePrefetch = undefined;
    return early.reply.then(reply<GroupsReply>, () => api.groups(id, parameters));
  }
  return api.groups(id, parameters);
}

/** Downloads with the token (a plain link could not send it). */
export async function download(url: string, filename: string): Promise<void> {
  const res = await fetch(url, { headers: headers() });
  if (!res.ok) throw new ApiError(`download failed: HTTP ${res.status}`, res.status, "HTTP_ERROR");
  const href = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = href;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(href), 1000);
}

/**
 * Follows a server-sent event stream until `signal` aborts. Reconnects after
 * a drop (a dispatch stream restarts with a fresh snapshot, so nothing is
 * missed); stops for good after an `end` event or a 4xx answer.
 */
export function follow(
  path: string,
  onEvent: (event: string, data: unknown) => void,
  signal: AbortSignal,
  onState?: (live: boolean) => void,
  /** Events whose data is not wanted: given as null, never parsed (a snapshot of 100,000 nodes is megabytes). */
  unparsed?: () => ReadonlySet<string>,
): void {
  const run = async () => {
    while (!signal.aborted) {
      let ended = false;
      try {
        const res = await fetch(API + path, { headers: headers({ accept: "text/event-stream" }), signal });
        if (res.status >= 400 && res.status < 500) {
          onState?.(false);
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        onState?.(true);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        // Where to look for the end of the event next: a snapshot of megabytes arrives in many reads.
        let scanned = 0;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut: number;
          while ((cut = buffer.indexOf("\n\n", scanned)) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            scanned = 0;
            let event = "message";
            const data: string[] = [];
            for (const line of block.split("\n")) {
              if (line.startsWith(":")) continue;
              if (line.startsWith("event:")) event = line.slice(6).trim();
              else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
            }
            if (!data.length) continue;
            onEvent(event, unparsed?.().has(event) ? null : JSON.parse(data.join("\n")));
            if (event === "end") ended = true;
          }
          scanned = Math.max(0, buffer.length - 1);
        }
      } catch {
        if (signal.aborted) return;
      }
      onState?.(false);
      if (ended || signal.aborted) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  void run();
}
