/** Small pieces every page uses: status badges, copy buttons, errors, confirmations. */
import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { ApiError, setToken, type Status } from "../api";
import { formatDuration, statusLabel, statusTone } from "../format";

export function StatusBadge({ status }: { status: Status }) {
  return (
    <span className={`badge tone-${statusTone(status)}`} data-status={status}>
      {statusLabel(status)}
    </span>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard access needs a secure context; fall back to a hidden selection.
      const area = document.createElement("textarea");
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    setDone(true);
    setTimeout(() => setDone(false), 1200);
  };
  return (
    <button type="button" className="btn small" onClick={copy} aria-label={`${label}: ${text}`}>
      {done ? "Copied" : label}
    </button>
  );
}

/** An error from the API; a missing token gets a form to give it. */
export function ErrorBox({ error }: { error: unknown }) {
  const [token, setTokenText] = useState("");
  if (!error) return null;
  const e = error as Error;
  if (error instanceof ApiError && error.code === "UNAUTHORIZED") {
    return (
      <form
        className="error"
        role="alert"
        onSubmit={(ev) => {
          ev.preventDefault();
          setToken(token.trim());
          location.reload();
        }}
      >
        <p>This server needs its token. It is in the server's data dir, file <code>server.token</code>.</p>
        <label>
          Token{" "}
          <input type="password" value={token} onChange={(ev) => setTokenText(ev.target.value)} autoComplete="off" />
        </label>{" "}
        <button className="btn" type="submit">
          Use token
        </button>
      </form>
    );
  }
  return (
    <div className="error" role="alert">
      {e.message ?? String(error)}
    </div>
  );
}

/** A modal question (the native dialog: focus is trapped, Escape cancels). */
export function Confirm({
  open,
  title,
  children,
  confirmLabel,
  danger,
  onConfirm,
  onClose,
}: {
  open: boolean;
  title: string;
  children?: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  // An id of its own: a page with several dialogs must not name each by the first one's title.
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} className="dialog" onClose={onClose} aria-labelledby={titleId}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          onConfirm();
        }}
      >
        <h2 id={titleId}>{title}</h2>
        {children}
        <div className="actions">
          <button type="button" className="btn" onClick={onClose}>
            Keep as is
          </button>
          <button type="submit" className={`btn ${danger ? "danger" : "primary"}`} autoFocus>
            {confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** Re-renders every `ms` while `active` (running durations). */
export function useTicker(active: boolean, ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [active, ms]);
  return now;
}

/** A running duration that re-renders itself, not the page around it (a page may hold a graph of thousands of nodes). */
export function Elapsed({ start, end }: { start: number | null; end: number | null }) {
  const now = useTicker(start !== null && end === null);
  return <>{formatDuration(start, end, now)}</>;
}
