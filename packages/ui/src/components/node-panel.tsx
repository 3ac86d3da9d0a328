/** The selected node: what it is, where it ran, its code, inputs, output, logs and error. */
import { useEffect, useLayoutEffect, useRef, useState, type ReactNode } from "react";
import { api, ApiError, download, type NodeDetails, type Status } from "../api";
import { formatDuration, formatTime, TERMINAL } from "../format";
import { Link } from "../router";
import { Confirm, CopyButton, ErrorBox, StatusBadge } from "./common";

export function NodePanel({
  dispatchId,
  nodeId,
  status,
  onClose,
  expanded,
  onToggleExpand,
}: {
  dispatchId: string;
  nodeId: number;
  status: Status | undefined;
  onClose: () => void;
  /** For a sublattice node whose run exists: whether that run is drawn in the graph. */
  expanded?: boolean | undefined;
  onToggleExpand?: () => void;
}) {
  const [node, setNode] = useState<NodeDetails>();
  const [error, setError] = useState<unknown>();
  const [confirm, setConfirm] = useState(false);
  const [notice, setNotice] = useState<string>();
  const heading = useRef<HTMLHeadingElement>(null);
  /** Bumped when the live output says the node ended: its details are read again (a caller may not pass the status). */
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let live = true;
    api.node(dispatchId, nodeId).then(
      (n) => {
        if (!live) return;
        setNode(n);
        setError(undefined);
      },
      (e) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [dispatchId, nodeId, status, reload]);

  useEffect(() => {
    setNotice(undefined);
    heading.current?.focus();
  }, [nodeId]);

  const cancelNode = async () => {
    setConfirm(false);
    try {
      const r = await api.cancel(dispatchId, [nodeId]);
      setNotice(r.cancelled ? "Cancel sent for this node and what depends on it." : "No live runner has this dispatch; nothing to cancel.");
    } catch (e) {
      setError(e);
    }
  };

  const current = node && node.nodeId === nodeId && node.dispatchId === dispatchId ? node : undefined;
  const shownStatus = status ?? current?.status;
  // The live poll also says when a try failed and the next waits, or began: the details are read again then.
  const live = useLiveOutput(dispatchId, nodeId, shownStatus === "RUNNING", () => setReload((n) => n + 1), setError);
  // The live text while following, and after it until details read after the end replace it (no flash of the stale, empty logs).
  const logs = live && (live.following || !current || !TERMINAL.has(current.status)) ? live : current;
  return (
    <aside className="panel" aria-label="Node details" onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <div className="panel-head">
        <h2 tabIndex={-1} ref={heading}>
          {current?.name ?? `node ${nodeId}`}
        </h2>
        <button type="button" className="btn small" onClick={onClose} aria-label="Close node details">
          ✕
        </button>
      </div>
      <div className="panel-sub">
        {shownStatus && <StatusBadge status={shownStatus} />}
        <span className="muted">
          node {nodeId} · {current?.kind ?? ""}
        </span>
        <span className="grow" />
        {shownStatus && !TERMINAL.has(shownStatus) && (
          <button type="button" className="btn small danger" onClick={() => setConfirm(true)}>
            Cancel node
          </button>
        )}
      </div>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorBox error={error} />
      {current && (
        <div className="panel-body">
          {current.subDispatchId && (
            <p className="sub-run">
              {expanded !== undefined && onToggleExpand && (
                <button type="button" className="btn small" onClick={onToggleExpand} aria-expanded={expanded}>
                  {expanded ? "Collapse in graph" : "Expand in graph"}
                </button>
              )}{" "}
              Its run: <Link to={`/dispatches/${current.subDispatchId}`}>{current.subDispatchId}</Link>
            </p>
          )}
          {current.cachedFrom && (
            <p className="cached-from" data-testid="cached-from">
              Cached: reused the result of{" "}
              <Link to={`/dispatches/${current.cachedFrom.dispatchId}?node=${current.cachedFrom.nodeId}`}>
                {current.cachedFrom.dispatchId}, node {current.cachedFrom.nodeId}
              </Link>
              ; it did not run.
            </p>
          )}
          {current.retryAt !== null && shownStatus === "RUNNING" && (
            <Retrying at={current.retryAt} tried={current.attempts} tries={current.retries + 1} onDue={() => setReload((n) => n + 1)} />
          )}
          {current.error && (
            <Section title={current.retryAt !== null ? `Error of try ${current.attempts}` : "Error"}>
              <div className="error" data-testid="node-error">
                <strong>
                  {current.error.name}: {current.error.message}
                </strong>
                <pre>{current.error.stack}</pre>
              </div>
            </Section>
          )}
          <dl className="facts compact">
            <div>
              <dt>Executor</dt>
              <dd>{current.executor.name || "—"}</dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>{formatTime(current.startedAt)}</dd>
            </div>
            <div>
              <dt>Ended</dt>
              <dd>{formatTime(current.endedAt)}</dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>{formatDuration(current.startedAt, current.endedAt)}</dd>
            </div>
            <div>
              <dt>Attempts</dt>
              <dd>
                {current.attempts} (retries allowed: {current.retries})
              </dd>
            </div>
            {current.cache && (
              <div>
                <dt>Cache</dt>
                <dd>
                  {current.cache.ttl === null ? "kept until cleared" : `kept for ${formatTtl(current.cache.ttl)}`}
                  {current.cache.version ? ` (version ${current.cache.version})` : ""}
                </dd>
              </div>
            )}
            {current.timeoutMs !== null && (
              <div>
                <dt>Timeout</dt>
                <dd>{current.timeoutMs} ms</dd>
              </div>
            )}
          </dl>
          {shownOptions(current.executor.options) && (
            <Section title="Executor options">
              <pre className="code">{shownOptions(current.executor.options)}</pre>
            </Section>
          )}
          {current.inputs.length > 0 && (
            <Section title="Inputs">
              <table className="table compact">
                <tbody>
                  {current.inputs.map((i) => (
                    <tr key={`${i.param}-${i.node}`}>
                      <th scope="row">{i.param}</th>
                      <td className="mono">{i.value ?? "—"}</td>
                      <td className="muted">from {i.name}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Section>
          )}
          <Section
            title="Output"
            extra={
              current.output && (
                <>
                  <CopyButton text={current.output.text} />{" "}
                  <button
                    type="button"
                    className="btn small"
                    onClick={() => void download(api.outputUrl(dispatchId, nodeId), `${dispatchId}-node-${nodeId}-output.txt`).catch(setError)}
                  >
                    Download
                  </button>
                </>
              )
            }
          >
            {current.output ? (
              <>
                <pre className="code" data-testid="node-output">
                  {current.output.text}
                </pre>
                {current.output.truncated && (
                  <p className="muted">
                    Showing the first {current.output.text.length.toLocaleString()} of {current.output.size.toLocaleString()} characters; download for the
                    whole value.
                  </p>
                )}
              </>
            ) : (
              <p className="muted">{shownStatus && TERMINAL.has(shownStatus) ? "No output." : "No output yet."}</p>
            )}
          </Section>
          <Section
            title="stdout"
            extra={
              live?.following && (
                <span className="output-live" data-testid="node-output-live" title="Following the task's output while it runs">
                  live
                </span>
              )
            }
          >
            {logs?.stdout ? (
              <LogText className="code" testId="node-stdout" text={logs.stdout} />
            ) : (
              <p className="muted">{live?.following ? "Nothing printed yet." : "Nothing printed."}</p>
            )}
          </Section>
          {logs?.stderr && (
            <Section title="stderr">
              <LogText className="code stderr" testId="node-stderr" text={logs.stderr} />
            </Section>
          )}
          {current.source && (
            <Section title="Source">
              <pre className="code source">{current.source}</pre>
            </Section>
          )}
        </div>
      )}
      <Confirm open={confirm} title={`Cancel node ${current?.name ?? nodeId}?`} confirmLabel="Cancel node" danger onConfirm={() => void cancelNode()} onClose={() => setConfirm(false)}>
        <p>The node stops if it is running, and the nodes that depend on it will not run.</p>
      </Confirm>
    </aside>
  );
}

/** "Retrying in 12 s (try 2 of 4)", counting down each second; once due, `onDue` reads the details again. */
function Retrying({ at, tried, tries, onDue }: { at: number; tried: number; tries: number; onDue: () => void }) {
  const [now, setNow] = useState(() => Date.now());
  const due = useRef(onDue);
  due.current = onDue;
  useEffect(() => {
    const tick = setInterval(() => {
      const t = Date.now();
      setNow(t);
      // A little after the due time, and again every few seconds until the try has begun.
      if (t >= at + 500 && Math.floor((t - at) / 1000) % 3 === 0) due.current();
    }, 1000);
    return () => clearInterval(tick);
  }, [at]);
  const left = Math.ceil((at - now) / 1000);
  return (
    <p className="notice retrying" role="status" data-testid="node-retrying">
      Try {tried} failed. {left > 0 ? `Retrying in ${formatSeconds(left)}` : "Retrying now"} (try {tried + 1} of {tries}).
    </p>
  );
}

function formatSeconds(s: number): string {
  return s < 90 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** A cache's time to live in its largest whole unit: "30 d", "1 h", "5 min", else as formatSeconds. */
function formatTtl(ms: number): string {
  const s = Math.round(ms / 1000);
  for (const [unit, size] of [["d", 86_400], ["h", 3600], ["min", 60]] as const) if (s >= size && s % size === 0) return `${s / size} ${unit}`;
  return formatSeconds(s);
}

/** Polls a running node's output about once a second. */
const LIVE_POLL_MS = 1000;

interface LiveOutput {
  readonly dispatchId: string;
  readonly nodeId: number;
  /** Still polling: the node runs and has not been seen ended. */
  readonly following: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * While `running`, follows the node's output: asks for the chunks after the
 * last `next` about once a second and appends them, stdout and stderr apart.
 * Stops once the server says the node ended (keeping its whole output), or
 * when the node, the dispatch or `running` changes, or the panel closes.
 * `onChanged` is told when the node ended, or a try failed and the next waits,
 * or the next try began (whose output starts afresh).
 * Undefined for a node it has not followed.
 */
function useLiveOutput(dispatchId: string, nodeId: number, running: boolean, onChanged: () => void, onError: (e: unknown) => void): LiveOutput | undefined {
  const [live, setLive] = useState<LiveOutput>();
  const callbacks = useRef({ onChanged, onError });
  callbacks.current = { onChanged, onError };

  useEffect(() => {
    if (!running) {
      setLive((l) => (l?.following ? { ...l, following: false } : l));
      return;
    }
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let after = 0;
    let seen: { attempt: number; retryAt: number | null } | undefined;
    const text = { stdout: "", stderr: "" };
    setLive({ dispatchId, nodeId, following: true, ...text });
    const poll = async () => {
      try {
        const o = await api.taskOutput(dispatchId, nodeId, after);
        if (stopped) return;
        if (o.ended) {
          setLive({ dispatchId, nodeId, following: false, stdout: o.stdout ?? "", stderr: o.stderr ?? "" });
          callbacks.current.onChanged();
          return;
        }
        if (seen && (seen.attempt !== o.attempt || seen.retryAt !== o.retryAt)) {
          // A try failed and the next waits, or the next began: its output starts afresh.
          if (seen.attempt !== o.attempt) {
            text.stdout = "";
            text.stderr = "";
            setLive({ dispatchId, nodeId, following: true, ...text });
          }
          callbacks.current.onChanged();
        }
        seen = { attempt: o.attempt, retryAt: o.retryAt };
        if (o.chunks.length) {
          for (const c of o.chunks) text[c.stream] += c.text;
          setLive({ dispatchId, nodeId, following: true, ...text });
        }
        after = o.next;
      } catch (e) {
        if (stopped) return;
        // The node or dispatch is not there (or the token is wrong): asking again will not help.
        if (e instanceof ApiError && e.status >= 400 && e.status < 500) {
          setLive((l) => l && { ...l, following: false });
          callbacks.current.onError(e);
          return;
        }
        // Anything else (the server restarting, a dropped connection): ask again.
      }
      timer = setTimeout(() => void poll(), LIVE_POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [dispatchId, nodeId, running]);

  return live && live.dispatchId === dispatchId && live.nodeId === nodeId ? live : undefined;
}

/** Printed text that stays scrolled to its end as it grows, unless the reader scrolled up. */
function LogText({ className, testId, text }: { className: string; testId: string; text: string }) {
  const pre = useRef<HTMLPreElement>(null);
  const atEnd = useRef(true);
  useLayoutEffect(() => {
    const el = pre.current;
    if (el && atEnd.current) el.scrollTop = el.scrollHeight;
  }, [text]);
  return (
    <pre
      ref={pre}
      className={className}
      data-testid={testId}
      onScroll={(e) => {
        const el = e.currentTarget;
        atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight < 8;
      }}
    >
      {text}
    </pre>
  );
}

function Section({ title, extra, children }: { title: string; extra?: ReactNode; children: ReactNode }) {
  return (
    <section className="panel-section">
      <div className="section-head">
        <h3>{title}</h3>
        <span>{extra}</span>
      </div>
      {children}
    </section>
  );
}

/** The executor's options as JSON, leaving out empty sections; undefined when nothing is left. */
function shownOptions(options: unknown): string | undefined {
  if (!options || typeof options !== "object") return undefined;
  const kept = Object.entries(options).filter(([, v]) => !(v && typeof v === "object" && Object.keys(v).length === 0));
  return kept.length ? JSON.stringify(Object.fromEntries(kept), null, 2) : undefined;
}
