/** One dispatch: its live graph, the selected node's panel, and the actions on it. */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, follow, type GraphReply, type RunChange, type Snapshot, type Status } from "../api";
import { Confirm, CopyButton, Elapsed, ErrorBox, StatusBadge } from "../components/common";
import { NodePanel } from "../components/node-panel";
import { formatTime, statusTone, TERMINAL } from "../format";
import { DispatchGraph } from "../graph/dispatch-graph";
import { combine, combinedStatuses } from "../graph/expand";
import { Link, navigate, useLocation } from "../router";

export function DispatchPage({ id }: { id: string }) {
  const { search } = useLocation();
  const selectedParam = search.get("node");
  const selected = selectedParam !== null && /^\d+$/.test(selectedParam) ? Number(selectedParam) : null;
  const [graph, setGraph] = useState<GraphReply>();
  const [error, setError] = useState<unknown>();
  const [statuses, setStatuses] = useState<ReadonlyMap<number, Status>>(new Map());
  const [status, setStatus] = useState<Status>();
  const [live, setLive] = useState(false);
  const [dialog, setDialog] = useState<"cancel" | "redispatch" | null>(null);
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
      const g = await api.graph(id);
      setGraph((old) => {
        // Same shape: keep the edge array, so the graph is not laid out again.
        if (old && old.nodes.length === g.nodes.length) return { ...g, edges: old.edges };
        return g;
      });
      setStatus((s) => s ?? g.dispatch.status);
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, [id]);

  useEffect(() => {
    void reload();
  }, [reload]);

  useEffect(() => {
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
          void reload();
        }
      },
      ctl.signal,
      setLive,
    );
    return () => {
      ctl.abort();
      if (frame) bigRef.current ? clearTimeout(frame) : cancelAnimationFrame(frame);
    };
  }, [id, reload]);

  // The dispatch's own status changed (started, ended): its times come with the graph.
  useEffect(() => {
    if (status) void reload();
  }, [status, reload]);

  // Times and counts come with the graph; refresh them now and then while it runs.
  const running = status !== undefined && !TERMINAL.has(status);
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => void reload(), (graph?.nodes.length ?? 0) > 1000 ? 10_000 : 3000);
    return () => clearInterval(t);
  }, [running, reload, graph?.nodes.length]);

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

  const counts = useMemo(() => {
    const out = new Map<string, number>();
    if (!graph) return out;
    for (const n of graph.nodes) {
      const tone = statusTone(statuses.get(n.nodeId) ?? n.status);
      out.set(tone, (out.get(tone) ?? 0) + 1);
    }
    return out;
  }, [graph, statuses]);

  const act = async (what: "cancel" | "redispatch") => {
    setDialog(null);
    try {
      if (what === "cancel") {
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

  const d = graph?.dispatch;
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
      <div className="dispatch-body">
        {graph ? (
          <DispatchGraph
            nodes={combined?.nodes ?? graph.nodes}
            edges={combined?.edges ?? graph.edges}
            statuses={allStatuses}
            selected={selected}
            onSelect={select}
            innerFrom={graph.nodes.length}
          />
        ) : (
          <div className="graph-wait">{error ? "" : "Loading…"}</div>
        )}
        {selected !== null && combined?.origin[selected] && (
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
