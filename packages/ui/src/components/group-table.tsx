/**
 * One group's nodes as a table under the grouped graph: a page at a time,
 * sorted by a column header, filtered by status; a row opens the node panel.
 * Fetched again when the group's counts change (as often as the page
 * re-fetches the groups, a few times a second at most), never all at once.
 */
import { useEffect, useRef, useState } from "react";
import { api, type Bucket, type GroupNodesReply, type GroupSort, type GroupView } from "../api";
import { formatDuration, formatTime } from "../format";
import { BUCKET_ORDER, BUCKET_TONE, countsText, formatMs, StatusBar } from "../graph/group-graph";
import { ErrorBox, StatusBadge } from "./common";

const PAGE = 50;

export function GroupTable({
  dispatchId,
  group,
  version,
  selected,
  onSelect,
  onClose,
  onRows,
}: {
  dispatchId: string;
  group: GroupView;
  /** Changes when the page has new counts: time to fetch the rows again. */
  version: number;
  selected: number | null;
  onSelect: (node: number) => void;
  onClose: () => void;
  /** The rows shown, so the page knows the statuses of the nodes in view. */
  onRows?: (rows: GroupNodesReply["nodes"]) => void;
}) {
  const [sort, setSort] = useState<GroupSort>("nodeId");
  const [order, setOrder] = useState<"asc" | "desc">("asc");
  const [status, setStatus] = useState<Bucket | "">("");
  const [page, setPage] = useState(0);
  const [reply, setReply] = useState<GroupNodesReply>();
  const [error, setError] = useState<unknown>();
  const seq = useRef(0);

  // Another group: start from its first page, in id order.
  useEffect(() => {
    setSort("nodeId");
    setOrder("asc");
    setStatus("");
    setPage(0);
    setReply(undefined);
  }, [group.id]);

  useEffect(() => {
    const mine = ++seq.current;
    api.groupNodes(dispatchId, group.id, { offset: page * PAGE, limit: PAGE, sort, order, status }).then(
      (r) => {
        if (mine !== seq.current) return;
        setReply(r);
        onRows?.(r.nodes);
        setError(undefined);
      },
      (e) => mine === seq.current && setError(e),
    );
  }, [dispatchId, group.id, sort, order, status, page, version]);

  const sortBy = (column: GroupSort) => {
    if (column === sort) setOrder((o) => (o === "asc" ? "desc" : "asc"));
    else {
      setSort(column);
      // Longest and most attempts first; ids and statuses in their order.
      setOrder(column === "duration" || column === "attempts" ? "desc" : "asc");
    }
    setPage(0);
  };
  const filter = (b: Bucket | "") => {
    setStatus(b);
    setPage(0);
  };

  const total = reply?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE));
  const header = (column: GroupSort, label: string, className?: string) => (
    <th scope="col" className={className} aria-sort={sort === column ? (order === "asc" ? "ascending" : "descending") : "none"}>
      <button type="button" className="sort" onClick={() => sortBy(column)}>
        {label}
        <span aria-hidden="true">{sort === column ? (order === "asc" ? " ▲" : " ▼") : ""}</span>
      </button>
    </th>
  );
  const d = group.durations;
  return (
    <section className="group-table" aria-label={`Nodes of ${group.name}`} data-testid="group-table" data-group={group.id}>
      <div className="group-table-head">
        <h2>
          {group.name} <span className="muted">× {group.size.toLocaleString()}</span>
        </h2>
        <StatusBar counts={group.counts} total={group.size} label={countsText(group.counts)} />
        <span className="muted small">
          {d ? `${d.finished.toLocaleString()} finished: min ${formatMs(d.min)}, median ${formatMs(d.median)}, max ${formatMs(d.max)}` : "none finished yet"}
          {group.executors.length ? ` · ${group.executors.join(", ")}` : ""}
          {group.retried ? ` · ${group.retried.toLocaleString()} retried` : ""}
        </span>
        <span className="grow" />
        <button type="button" className="btn small" onClick={onClose} aria-label="Close the group's table">
          ✕
        </button>
      </div>
      <div className="chips" role="group" aria-label="Show nodes that are">
        <button type="button" className="chip" aria-pressed={status === ""} onClick={() => filter("")}>
          All {group.size.toLocaleString()}
        </button>
        {BUCKET_ORDER.map((b) => (
          <button
            key={b}
            type="button"
            className={`chip tone-${BUCKET_TONE[b]}`}
            aria-pressed={status === b}
            onClick={() => filter(b)}
            disabled={!group.counts[b] && status !== b}
            data-bucket={b}
          >
            {b} {group.counts[b].toLocaleString()}
          </button>
        ))}
      </div>
      <ErrorBox error={error} />
      <div className="table-scroll">
        <table className="table compact nodes-table" aria-label={`Nodes of ${group.name}`} aria-rowcount={total}>
          <thead>
            <tr>
              {header("nodeId", "Node", "num")}
              {header("status", "Status")}
              <th scope="col">Started</th>
              <th scope="col">Ended</th>
              {header("duration", "Duration", "num")}
              {header("attempts", "Attempts", "num")}
              <th scope="col">Executor</th>
            </tr>
          </thead>
          <tbody>
            {reply?.nodes.map((r) => (
              <tr
                key={r.nodeId}
                data-node={r.nodeId}
                aria-selected={selected === r.nodeId}
                tabIndex={0}
                onClick={() => onSelect(r.nodeId)}
                onKeyDown={(e) => {
                  if (e.key === "Enter" || e.key === " ") {
                    e.preventDefault();
                    onSelect(r.nodeId);
                  }
                }}
              >
                <td className="num mono">{r.nodeId}</td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>{formatTime(r.startedAt)}</td>
                <td>{formatTime(r.endedAt)}</td>
                <td className="num" data-ms={r.durationMs ?? ""}>
                  {r.durationMs === null ? (r.startedAt !== null ? formatDuration(r.startedAt, null) : "—") : formatMs(r.durationMs)}
                </td>
                <td className="num">{r.attempts}</td>
                <td>{r.executor || "—"}</td>
              </tr>
            ))}
            {reply && reply.nodes.length === 0 && (
              <tr>
                <td colSpan={7} className="empty">
                  {total ? "This page is past the end." : "No node of this group matches."}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages of nodes">
        <button type="button" className="btn small" disabled={page === 0} onClick={() => setPage((p) => Math.max(0, p - 1))}>
          ← Previous
        </button>
        <span className="muted" data-testid="group-pager">
          {total === 0
            ? "0 nodes"
            : `${(page * PAGE + 1).toLocaleString()}–${Math.min(total, (page + 1) * PAGE).toLocaleString()} of ${total.toLocaleString()} · page ${page + 1} of ${pages.toLocaleString()}`}
        </span>
        <button type="button" className="btn small" disabled={page + 1 >= pages} onClick={() => setPage((p) => p + 1)}>
          Next →
        </button>
      </nav>
    </section>
  );
}
