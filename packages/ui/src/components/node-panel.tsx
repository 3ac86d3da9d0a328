/** The selected node: what it is, where it ran, its code, inputs, output, logs and error. */
import { useEffect, useRef, useState, type ReactNode } from "react";
import { api, download, type NodeDetails, type Status } from "../api";
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
  }, [dispatchId, nodeId, status]);

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

  const shownStatus = status ?? node?.status;
  const current = node && node.nodeId === nodeId ? node : undefined;
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
          {current.error && (
            <Section title="Error">
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
          <Section title="stdout">
            {current.stdout ? <pre className="code" data-testid="node-stdout">{current.stdout}</pre> : <p className="muted">Nothing printed.</p>}
          </Section>
          {current.stderr && (
            <Section title="stderr">
              <pre className="code stderr">{current.stderr}</pre>
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
