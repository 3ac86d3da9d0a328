/**
 * One dispatch: its live graph, the selected node's panel, and the actions on
 * it. A large dispatch's graph comes grouped (repeated electrons as one node
 * with counts, a table of a group's nodes under the graph); a small one node
 * by node. `?view=nodes` draws every node of a grouped one (up to
 * MAX_NODE_VIEW), `?params=1` shows its parameters, `?group=N` opens a
 * group's table, `?node=N` a node's panel, `?tab=timeline` the task-stream
 * timeline (graph/timeline.tsx) instead of the graph.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, follow, takeGroups, type Bucket, type GraphReply, type GroupedReply, type GroupNodeRow, type GroupView, type RunChange, type Snapshot, type Status } from "../api";
import { Confirm, CopyButton, Elapsed, ErrorBox, StatusBadge } from "../components/common";
import { GroupTable } from "../components/group-table";
import { NodePanel } from "../components/node-panel";
import { FiredBy } from "../components/fired-by";
import { formatTime, statusTone, TERMINAL } from "../format";
import { DispatchGraph } from "../graph/dispatch-graph";
import { combine, combinedStatuses } from "../graph/expand";
import { GroupGraph } from "../graph/group-graph";
import { Timeline } from "../graph/timeline";
import { Link, navigate, useLocation } from "../router";

/** Grouped dispatches up to this many nodes can also be drawn node by node. */
const MAX_NODE_VIEW = 5000;
/** Least time between two fetches of the groups while changes pour in (ms); more when the server takes longer. */
const GROUPS_MIN_GAP_MS = 300;
const TONE_OF_BUCKET: Readonly<Record<Bucket, string>> = { completed: "done", running: "active", failed: "failed", pending: "idle", cancelled: "cancelled" };
const SNAPSHOT = new Set(["snapshot"]);
const NOTHING = new Set<string>();

export function DispatchPage({ id }: { id: string }) {
  const { search } = useLocation();
  const selectedParam = search.get("node");
  const selected = selectedParam !== null && /^\d+$/.test(selectedParam) ? Number(selectedParam) : null;
  const forceNodes = search.get("view") === "nodes";
  const tab: "graph" | "timeline" = search.get("tab") === "timeline" ? "timeline" : "graph";
  const showParams = search.get("params") === "1";
  const groupParam = search.get("group");
  const openGroup = groupParam !== null && /^\d+$/.test(groupParam) ? Number(groupParam) : null;
  const [graph, setGraph] = useState<GraphReply>();
  const [grouped, setGrouped] = useState<GroupedReply>();
  /** Counts once per groups reply: the open table fetches its page again. */
  const [version, setVersion] = useState(0);
  /** What the first reply said: grouped or not, and whether the dispatch had already ended. */
  const [first, setFirst] = useState<{ grouped: boolean; ended: boolean }>();
  const [rows, setRows] = useState<ReadonlyMap<number, Status>>(new Map());
  const view: "groups" | "nodes" = !forceNodes && grouped ? "groups" : "nodes";
  const groupedRef = useRef(false);
  groupedRef.current = view === "groups";
  const [error, setError] = useState<unknown>();
  const [statuses, setStatuses] = useState<ReadonlyMap<number, Status>>(new Map());
  const [status, setStatus] = useState<Status>();
  const [live, setLive] = useState(false);
  const [dialog, setDialog] = useState<"cancel" | "redispatch" | "delete" | null>(null);
  const [reuse, setReuse] = useState(true);
  const [resultText, setResultText] = useState<string>();
  const [showResult, setShowResult] = useState(false);
  const [notice, setNotice] = useState<string>();
  // Sublattice nodes expanded in place (`?expand=3,7`), their runs' graphs and live statuses.
  const expandParam = search.get("expand") ?? "";
  const expanded = useMemo(() => [...new Set(expandParam.split(",").filter((x) => /^\d+$/.test(x)).map(Number))].sort((a, b) => a - b), [expandParam]);
  const [subs, setSubs] = useState<ReadonlyMap<number, GraphReply>>(new Map());
  const [subStatuses, setSubStatuses] = useState<ReadonlyMap<string, ReadonlyMap<number, Status>>>(new Map());

  const bigRef = useRef(false);
  bigRef.current = (graph?.nodes.length ?? 0) > 1000;

  const reload = useCallback(async () => {
    try {
      const r = forceNodes ? ({ ...(await api.graph(id)), grouped: false } as const) : await takeGroups(id, showParams);
      if (r.grouped) {
        setGrouped((old) => {
          // Same shape: keep the group and edge arrays' identity where it matters, so the graph is not laid out again.
          if (old && old.edges.length === r.edges.length && old.groups.length === r.groups.length && old.groups.every((g, i) => g.id === r.groups[i]?.id)) {
            return { ...r, edges: old.edges };
          }
          return r;
        });
        setVersion((v) => v + 1);
        // Counts and the status come together; a change event may have said it already.
        setStatus(r.dispatch.status);
      } else {
        const g: GraphReply = r;
        setGraph((old) => {
          // Same shape: keep the edge array, so the graph is not laid out again.
          if (old && old.nodes.length === g.nodes.length) return { ...g, edges: old.edges };
          return g;
        });
        setStatus((s) => s ?? g.dispatch.status);
      }
      setFirst((f) => f ?? { grouped: r.grouped, ended: TERMINAL.has(r.dispatch.status) });
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, [id, forceNodes, showParams]);
  const reloadRef = useRef(reload);
  reloadRef.current = reload;

  // A grouped dispatch's changes are not applied node by node: they make the page fetch the groups
  // again, one fetch at a time, at most every GROUPS_MIN_GAP_MS (or twice the last fetch's time).
  const refetch = useRef({ timer: 0, busy: false, dirty: false, last: 0, gap: GROUPS_MIN_GAP_MS });
  const scheduleGroups = useCallback(() => {
    const r = refetch.current;
    if (r.busy || r.timer) {
      r.dirty = true;
      return;
    }
    r.timer = window.setTimeout(async () => {
      r.timer = 0;
      r.busy = true;
      r.dirty = false;
      const t0 = performance.now();
      r.last = t0;
      await reloadRef.current();
      r.busy = false;
      r.gap = Math.max(GROUPS_MIN_GAP_MS, 2 * (performance.now() - t0));
      if (r.dirty) scheduleGroups();
    }, Math.max(0, r.last + r.gap - performance.now()));
  }, []);
  useEffect(() => () => clearTimeout(refetch.current.timer), []);

  useEffect(() => {
    void reload();
  }, [reload]);

  // The stream is opened once the first reply says what the page draws; a grouped dispatch that
  // had already ended has nothing more to say.
  const follows = first !== undefined && !(first.grouped && first.ended && !forceNodes);
  useEffect(() => {
    if (!follows) return;
    const ctl = new AbortController();
    // Status changes arrive many per second in a big dispatch: apply them in one render per frame.
    let pending: Array<[number, Status]> = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = pending;
      pending = [];
      setStatuses((old) => {
        const next = new Map(old);
        for (const [n, s] of batch) next.set(n, s);
        return next;
      });
    };
    follow(
      `/dispatches/${id}/events`,
      (event, data) => {
        if (groupedRef.current) {
          // Grouped: the snapshot is not even parsed; every change asks for new counts (batched).
          if (event === "change") {
            const c = data as RunChange;
            if (c.dispatchId !== id) return;
            if (c.status) setStatus(c.status);
            scheduleGroups();
          } else if (event === "snapshot") scheduleGroups();
          else if (event === "end") void reloadRef.current();
          return;
        }
        if (event === "snapshot") {
          const snap = data as Snapshot;
          pending = [];
          setStatuses(new Map(snap.nodes.map((n) => [n.node, n.status])));
          setStatus(snap.status);
        } else if (event === "change") {
          const c = data as RunChange;
          if (c.dispatchId !== id) return;
          for (const n of c.nodes) pending.push([n.node, n.status]);
          if (c.status) setStatus(c.status);
          // Big graphs repaint at most a few times a second, so panning stays smooth while statuses pour in.
          frame ||= bigRef.current ? window.setTimeout(flush, 400) : requestAnimationFrame(flush);
        } else if (event === "end") {
          void reloadRef.current();
        }
      },
      ctl.signal,
      setLive,
      () => (groupedRef.current ? SNAPSHOT : NOTHING),
    );
    return () => {
      ctl.abort();
      setLive(false);
      if (frame) bigRef.current ? clearTimeout(frame) : cancelAnimationFrame(frame);
    };
    // Again when the view changes: node by node needs a fresh snapshot.
  }, [id, follows, forceNodes, scheduleGroups]);

  // The dispatch's own status changed (started, ended): its times come with the graph.
  // Not when it is first known: the reply that said it is the graph.
  const lastStatus = useRef<Status | undefined>(undefined);
  useEffect(() => {
    const before = lastStatus.current;
    lastStatus.current = status;
    if (status && before && before !== status) void reloadRef.current();
  }, [status]);

  // Times and counts come with the graph; refresh them now and then while it runs.
  const running = status !== undefined && !TERMINAL.has(status);
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => void reload(), view === "groups" ? 5000 : (graph?.nodes.length ?? 0) > 1000 ? 10_000 : 3000);
    return () => clearInterval(t);
  }, [running, reload, graph?.nodes.length, view]);

  useEffect(() => {
    if (!showResult) return;
    api.resultText(id).then((r) => setResultText(r.text), (e: Error) => setResultText(`Could not read the result: ${e.message}`));
  }, [showResult, id, status]);

  const subIds = expanded.map((n) => graph?.nodes[n]?.subDispatchId ?? "").join(",");
  useEffect(() => {
    let live = true;
    const wanted = expanded.filter((n) => graph?.nodes[n]?.subDispatchId);
    Promise.all(wanted.map((n) => api.graph(graph?.nodes[n]?.subDispatchId as string).then((g) => [n, g] as const))).then(
      (pairs) => live && setSubs(new Map(pairs)),
      (e) => live && setError(e),
    );
    const ctl = new AbortController();
    for (const n of wanted) {
      const sub = graph?.nodes[n]?.subDispatchId as string;
      follow(
        `/dispatches/${sub}/events`,
        (event, data) => {
          const update = (entries: Array<[number, Status]>, reset: boolean) =>
            setSubStatuses((old) => {
              const next = new Map(old);
              const mine = new Map(reset ? [] : (old.get(sub) ?? []));
              for (const [k, v] of entries) mine.set(k, v);
              next.set(sub, mine);
              return next;
            });
          if (event === "snapshot") update((data as Snapshot).nodes.map((x) => [x.node, x.status]), true);
          else if (event === "change" && (data as RunChange).dispatchId === sub) update((data as RunChange).nodes.map((x) => [x.node, x.status]), false);
        },
        ctl.signal,
      );
    }
    return () => {
      live = false;
      ctl.abort();
    };
    // Only when the set of expanded runs changes, not on every refresh of the graph.
  }, [subIds]);

  const combined = useMemo(() => (graph ? combine(id, graph, subs) : undefined), [id, graph, subs]);
  const allStatuses = useMemo(() => (combined ? combinedStatuses(statuses, combined, subStatuses) : statuses), [combined, statuses, subStatuses]);

  const toggleExpand = useCallback(
    (node: number) => {
      const next = new URLSearchParams(location.search);
      const set = new Set(expanded);
      if (set.has(node)) set.delete(node);
      else set.add(node);
      if (set.size) next.set("expand", [...set].sort((a, b) => a - b).join(","));
      else next.delete("expand");
      // Inner node ids shift when runs open or close: start from the sublattice node itself.
      next.set("node", String(node));
      navigate(`/dispatches/${id}?${next.toString()}`, true);
    },
    [expanded, id],
  );

  const select = useCallback(
    (node: number | null) => {
      const next = new URLSearchParams(location.search);
      if (node === null) next.delete("node");
      else next.set("node", String(node));
      const s = next.toString();
      navigate(`/dispatches/${id}${s ? `?${s}` : ""}`, true);
    },
    [id],
  );

  const setParams = useCallback(
    (changes: Record<string, string | null>) => {
      const next = new URLSearchParams(location.search);
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) next.delete(k);
        else next.set(k, v);
      }
      const s = next.toString();
      navigate(`/dispatches/${id}${s ? `?${s}` : ""}`, true);
    },
    [id],
  );
  // A group of one is its node: open its panel. Others open their table.
  const openGroupOf = useCallback((g: GroupView) => (g.size === 1 ? setParams({ node: String(g.firstNode) }) : setParams({ group: String(g.id) })), [setParams]);
  const closeGroup = useCallback(() => setParams({ group: null }), [setParams]);
  const clearSelection = useCallback(() => setParams({ group: null, node: null }), [setParams]);
  const onRows = useCallback((r: readonly GroupNodeRow[]) => setRows(new Map(r.map((x) => [x.nodeId, x.status]))), []);

  const counts = useMemo(() => {
    const out = new Map<string, number>();
    if (view === "groups" && grouped) {
      for (const [b, tone] of Object.entries(TONE_OF_BUCKET)) out.set(tone, grouped.counts[b as Bucket]);
      return out;
    }
    if (!graph) return out;
    for (const n of graph.nodes) {
      const tone = statusTone(statuses.get(n.nodeId) ?? n.status);
      out.set(tone, (out.get(tone) ?? 0) + 1);
    }
    return out;
  }, [graph, statuses, grouped, view]);

  const act = async (what: "cancel" | "redispatch" | "delete") => {
    setDialog(null);
    try {
      if (what === "delete") {
        await api.remove(id);
        navigate("/");
      } else if (what === "cancel") {
        const r = await api.cancel(id);
        setNotice(r.cancelled ? "Cancel sent: running tasks are being stopped." : "The dispatch has no live runner; nothing to cancel.");
      } else {
        const r = await api.redispatch(id, reuse);
        navigate(`/dispatches/${r.dispatchId}`);
      }
    } catch (e) {
      setError(e);
    }
  };

  const d = view === "groups" ? grouped?.dispatch : graph?.dispatch;
  const shownGroup = view === "groups" && openGroup !== null ? grouped?.groups.find((g) => g.id === openGroup) : undefined;
  const nodeCount = grouped?.nodeCount ?? d?.nodeCount ?? 0;
  const shown = status ?? d?.status;
  const done = counts.get("done") ?? 0;
  return (
    <main className="dispatch-page">
      <section className="dispatch-head" aria-label="Dispatch">
        <div className="title-row">
          <Link to="/" className="back" aria-label="Back to the dispatches">
            ←
          </Link>
          <h1>{d?.name ?? "…"}</h1>
          {shown && <StatusBadge status={shown} />}
          <span className={`live ${live ? "on" : ""}`}>{live ? "live" : TERMINAL.has(shown ?? "RUNNING") ? "ended" : "offline"}</span>
          <span className="grow" />
          <div className="actions">
            <button type="button" className="btn" onClick={() => setShowResult((s) => !s)} aria-expanded={showResult}>
              Result text
            </button>
            <button type="button" className="btn" onClick={() => setDialog("redispatch")} disabled={!d || !TERMINAL.has(shown ?? "RUNNING")}>
              Redispatch…
            </button>
            <button type="button" className="btn danger" onClick={() => setDialog("cancel")} disabled={!d || TERMINAL.has(shown ?? "COMPLETED")}>
              Cancel dispatch
            </button>
            {d && TERMINAL.has(shown ?? "RUNNING") && d.parentId === null && (
              <button type="button" className="btn danger" onClick={() => setDialog("delete")}>
                Delete…
              </button>
            )}
          </div>
        </div>
        <dl className="facts">
          <div>
            <dt>Dispatch id</dt>
            <dd className="mono">
              {id} <CopyButton text={id} label="Copy id" />
            </dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>{formatTime(d?.startedAt ?? d?.createdAt ?? null)}</dd>
          </div>
          <div>
            <dt>Duration</dt>
            <dd>{d ? <Elapsed start={d.startedAt} end={d.endedAt} /> : "—"}</dd>
          </div>
          <div>
            <dt>Nodes done</dt>
            <dd>
              {done} / {d?.nodeCount ?? 0}
            </dd>
          </div>
          {d?.inputs && (
            <div>
              <dt>Inputs</dt>
              <dd className="mono clip" title={d.inputs}>
                {d.inputs}
              </dd>
            </div>
          )}
          {d?.output && (
            <div>
              <dt>Result</dt>
              <dd className="mono clip" title={d.output}>
                {d.output}
              </dd>
            </div>
          )}
          {d && d.parentId === null && <FiredBy dispatchId={d.id} />}
          {d?.parentId && (
            <div>
              <dt>Part of</dt>
              <dd>
                <Link to={`/dispatches/${d.parentId}`}>{d.parentId}</Link>
              </dd>
            </div>
          )}
        </dl>
        <div className="legend" aria-label="Nodes by status">
          {(["idle", "active", "done", "failed", "cancelled"] as const).map((t) =>
            counts.get(t) ? (
              <span key={t} className={`legend-item tone-${t}`}>
                <span className="vnode-dot" aria-hidden="true" /> {counts.get(t)} {t === "idle" ? "pending" : t === "active" ? "running" : t === "done" ? "completed" : t}
              </span>
            ) : null,
          )}
        </div>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <ErrorBox error={error} />
        {d?.error && shown === "FAILED" && (
          <details className="error">
            <summary>
              {d.error.name}: {d.error.message}
            </summary>
            <pre>{d.error.stack}</pre>
          </details>
        )}
        {showResult && (
          <section className="result-text" aria-label="Result text">
            <div className="section-head">
              <h2>Result</h2>
              {resultText && <CopyButton text={resultText} />}
            </div>
            <pre data-testid="result-text">{resultText ?? "Loading…"}</pre>
          </section>
        )}
      </section>
      <div className="tabs" role="tablist" aria-label="Views of the dispatch">
        <button type="button" role="tab" className={`tab ${tab === "graph" ? "on" : ""}`} aria-selected={tab === "graph"} onClick={() => setParams({ tab: null })}>
          Graph
        </button>
        <button
          type="button"
          role="tab"
          className={`tab ${tab === "timeline" ? "on" : ""}`}
          aria-selected={tab === "timeline"}
          onClick={() => setParams({ tab: "timeline", group: null })}
        >
          Timeline
        </button>
      </div>
      <div className="dispatch-body">
        {tab === "timeline" ? (
          <div className="graph-column">
            <Timeline dispatchId={id} running={running} onSelect={(n) => setParams({ node: String(n) })} />
          </div>
        ) : view === "groups" && grouped ? (
          <div className="graph-column">
            <GroupGraph groups={grouped.groups} edges={grouped.edges} open={shownGroup?.id ?? null} onOpen={openGroupOf} onClear={clearSelection}>
              <div className="graph-tools">
                <span className="graph-note" data-testid="grouped-note">
                  {nodeCount.toLocaleString()} nodes in {grouped.groups.length.toLocaleString()} {grouped.groups.length === 1 ? "group" : "groups"}
                </span>
                {grouped.parameters.nodes > 0 && (
                  <label className="check">
                    <input type="checkbox" checked={showParams} onChange={(e) => setParams({ params: e.target.checked ? "1" : null, group: null })} /> Show{" "}
                    {grouped.parameters.nodes.toLocaleString()} parameters
                  </label>
                )}
                {nodeCount <= MAX_NODE_VIEW && (
                  <button type="button" className="btn small" onClick={() => setParams({ view: "nodes", group: null })}>
                    Draw every node
                  </button>
                )}
              </div>
            </GroupGraph>
            {shownGroup && (
              <GroupTable
                dispatchId={id}
                group={shownGroup}
                version={version}
                selected={selected}
                onSelect={(n) => setParams({ node: String(n) })}
                onClose={closeGroup}
                onRows={onRows}
              />
            )}
          </div>
        ) : graph ? (
          <DispatchGraph
            nodes={combined?.nodes ?? graph.nodes}
            edges={combined?.edges ?? graph.edges}
            statuses={allStatuses}
            selected={selected}
            onSelect={select}
            innerFrom={graph.nodes.length}
          >
            {forceNodes && (
              <button type="button" className="btn small" onClick={() => setParams({ view: null, node: null })}>
                Group repeated nodes
              </button>
            )}
          </DispatchGraph>
        ) : (
          <div className="graph-wait">{error ? "" : "Loading…"}</div>
        )}
        {tab === "timeline" && selected !== null && <NodePanel dispatchId={id} nodeId={selected} status={undefined} onClose={() => select(null)} />}
        {tab === "graph" && view === "groups" && selected !== null && (
          <NodePanel dispatchId={id} nodeId={selected} status={rows.get(selected)} onClose={() => select(null)} />
        )}
        {tab === "graph" && view === "nodes" && selected !== null && combined?.origin[selected] && (
          <NodePanel
            dispatchId={combined.origin[selected].dispatchId}
            nodeId={combined.origin[selected].nodeId}
            status={allStatuses.get(selected) ?? combined.nodes[selected]?.status}
            onClose={() => select(null)}
            expanded={selected < graph!.nodes.length && graph!.nodes[selected]?.subDispatchId ? expanded.includes(selected) : undefined}
            onToggleExpand={() => toggleExpand(selected)}
          />
        )}
      </div>
      <Confirm
        open={dialog === "cancel"}
        title="Cancel this dispatch?"
        confirmLabel="Cancel dispatch"
        danger
        onConfirm={() => void act("cancel")}
        onClose={() => setDialog(null)}
      >
        <p>Running tasks are stopped and pending ones never start. Completed results are kept.</p>
      </Confirm>
      <Confirm open={dialog === "delete"} title="Delete this dispatch?" confirmLabel="Delete dispatch" danger onConfirm={() => void act("delete")} onClose={() => setDialog(null)}>
        <p>Its nodes, inputs, outputs, logs and results dir are removed for good, with its sublattice runs. This cannot be undone.</p>
      </Confirm>
      <Confirm open={dialog === "redispatch"} title="Redispatch?" confirmLabel="Redispatch" onConfirm={() => void act("redispatch")} onClose={() => setDialog(null)}>
        <p>Runs this graph again with the same inputs, as a new dispatch.</p>
        <label className="check">
          <input type="checkbox" checked={reuse} onChange={(e) => setReuse(e.target.checked)} /> Reuse the results of nodes that completed (their inputs
          cannot have changed)
        </label>
      </Confirm>
    </main>
  );
}
