/** Summary counts and the dispatch list: filter, search, pages, live. */
import { useCallback, useEffect, useRef, useState } from "react";
import { useReloadOnChanges } from "../use-reload-on-changes";
import { api, type ListReply, type SummaryReply } from "../api";
import { ErrorBox, StatusBadge, useTicker } from "../components/common";
import { formatDuration, formatTime, TERMINAL } from "../format";
import { Link, navigate, useLocation } from "../router";

const PAGE = 50;
const GROUPS: Record<string, { label: string; statuses: string }> = {
  "": { label: "All", statuses: "" },
  running: { label: "Running", statuses: "NEW_OBJECT,PENDING_REUSE,STARTING,RUNNING,POSTPROCESSING,PENDING_POSTPROCESSING" },
  completed: { label: "Completed", statuses: "COMPLETED" },
  failed: { label: "Failed", statuses: "FAILED" },
  cancelled: { label: "Cancelled", statuses: "CANCELLED" },
};

function countOf(summary: SummaryReply | undefined, group: string): number {
  if (!summary) return 0;
  const statuses = GROUPS[group]?.statuses ?? "";
  if (!statuses) return summary.total;
  return statuses.split(",").reduce((n, s) => n + (summary.counts[s as keyof SummaryReply["counts"]] ?? 0), 0);
}

export function DispatchList() {
  const { search } = useLocation();
  const group = GROUPS[search.get("status") ?? ""] ? (search.get("status") ?? "") : "";
  const q = search.get("q") ?? "";
  // `?page=` counts from 1, as the pager shows it; `page` is the index.
  const page = Math.max(1, Math.floor(Number(search.get("page") ?? 1)) || 1) - 1;
  const [list, setList] = useState<ListReply>();
  const [summary, setSummary] = useState<SummaryReply>();
  const [error, setError] = useState<unknown>();
  const [live, setLive] = useState(false);
  const [draft, setDraft] = useState(q);

  const setParams = (changes: Record<string, string>) => {
    const next = new URLSearchParams(search);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    const s = next.toString();
    navigate(s ? `/?${s}` : "/", true);
  };

  const seq = useRef(0);
  const load = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const [l, s] = await Promise.all([api.list({ offset: page * PAGE, limit: PAGE, status: GROUPS[group]?.statuses ?? "", q }), api.summary()]);
      if (mine !== seq.current) return;
      setList(l);
      setSummary(s);
      setError(undefined);
    } catch (e) {
      if (mine === seq.current) setError(e);
    }
  }, [group, q, page]);

  useEffect(() => {
    void load();
  }, [load]);

  // Any change of any dispatch: reload, at most a few times a second. The server announces a
  // dispatch the moment it is stored, so the stream is all the list needs.
  useReloadOnChanges(load, 100, setLive);

  useEffect(() => setDraft(q), [q]);
  useEffect(() => {
    if (draft === q) return;
    const t = setTimeout(() => setParams({ q: draft.trim(), page: "" }), 250);
    return () => clearTimeout(t);
  }, [draft]);

  const anyRunning = !!list?.dispatches.some((d) => !TERMINAL.has(d.status));
  const now = useTicker(anyRunning);
  const pages = list ? Math.max(1, Math.ceil(list.total / PAGE)) : 1;

  return (
    <main className="page">
      <div className="page-head">
        <h1>Dispatches</h1>
        <span className={`live ${live ? "on" : ""}`} title={live ? "Following live events" : "Not connected to live events"}>
          {live ? "live" : "offline"}
        </span>
      </div>
      <section className="cards" aria-label="Summary">
        {(["running", "completed", "failed", "cancelled", ""] as const).map((g) => (
          <button
            key={g || "all"}
            type="button"
            className={`card card-${g || "all"}`}
            aria-pressed={group === g}
            onClick={() => setParams({ status: g, page: "" })}
          >
            <span className="card-count" data-testid={`count-${g || "all"}`}>
              {countOf(summary, g).toLocaleString()}
            </span>
            <span className="card-label">{g ? GROUPS[g]?.label : "Total"}</span>
          </button>
        ))}
      </section>
      <div className="toolbar">
        <label className="field">
          <span>Status</span>
          <select value={group} onChange={(e) => setParams({ status: e.target.value, page: "" })}>
            {Object.entries(GROUPS).map(([k, v]) => (
              <option key={k} value={k}>
                {v.label}
              </option>
            ))}
          </select>
        </label>
        <label className="field grow">
          <span>Search</span>
          <input type="search" placeholder="Lattice name or dispatch id" value={draft} onChange={(e) => setDraft(e.target.value)} />
        </label>
      </div>
      <ErrorBox error={error} />
      <div className="table-wrap">
        <table className="table" aria-label="Dispatches, newest first">
          <thead>
            <tr>
              <th scope="col">Status</th>
              <th scope="col">Lattice</th>
              <th scope="col">Dispatch id</th>
              <th scope="col">Started</th>
              <th scope="col" className="num">
                Duration
              </th>
              <th scope="col">Nodes</th>
            </tr>
          </thead>
          <tbody>
            {list?.dispatches.map((d) => (
              <tr key={d.id} data-dispatch={d.id} onClick={(e) => (e.target as HTMLElement).closest("a,button") || navigate(`/dispatches/${d.id}`)}>
                <td>
                  <StatusBadge status={d.status} />
                </td>
                <td className="name">
                  <Link to={`/dispatches/${d.id}`}>{d.name}</Link>
                </td>
                <td className="mono muted">{d.id}</td>
                <td>{formatTime(d.startedAt ?? d.createdAt)}</td>
                <td className="num">{formatDuration(d.startedAt, d.endedAt, now)}</td>
                <td>
                  <span className="progress" aria-label={`${d.nodesDone} of ${d.nodeCount} nodes done`}>
                    <span style={{ width: `${d.nodeCount ? (100 * d.nodesDone) / d.nodeCount : 0}%` }} />
                  </span>{" "}
                  <span className="muted">
                    {d.nodesDone}/{d.nodeCount}
                  </span>
                </td>
              </tr>
            ))}
            {list && list.dispatches.length === 0 && (
              <tr>
                <td colSpan={6} className="empty">
                  {list.total > 0
                    ? "This page is past the end of the list."
                    : q || group
                      ? "No dispatch matches."
                      : "No dispatches yet. Dispatch a lattice while `valence start` runs and it shows up here."}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {list && (
        <nav className="pager" aria-label="Pages">
          <button type="button" className="btn" disabled={page === 0} onClick={() => setParams({ page: page - 1 === 0 ? "" : String(page) })}>
            ← Newer
          </button>
          <span className="muted">
            {list.total === 0
              ? "0 dispatches"
              : `${(page * PAGE + 1).toLocaleString()}–${Math.min(list.total, (page + 1) * PAGE).toLocaleString()} of ${list.total.toLocaleString()} · page ${page + 1} of ${pages}`}
          </span>
          <button type="button" className="btn" disabled={page + 1 >= pages} onClick={() => setParams({ page: String(page + 2) })}>
            Older →
          </button>
        </nav>
      )}
    </main>
  );
}
