/** The server log's tail, following new lines while the page is open. */
import { useEffect, useRef, useState } from "react";
import { api } from "../api";
import { ErrorBox } from "../components/common";

const MAX_CHARS = 512 * 1024;

export function LogPage() {
  const [text, setText] = useState("");
  const [exists, setExists] = useState(true);
  const [error, setError] = useState<unknown>();
  const [follow, setFollow] = useState(true);
  const pre = useRef<HTMLPreElement>(null);

  useEffect(() => {
    let offset: number | undefined;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const tick = async () => {
      try {
        const r = await api.log(offset);
        if (stopped) return;
        setExists(r.exists);
        if (offset === undefined || r.offset < offset) setText(r.text);
        else if (r.text) setText((t) => (t + r.text).slice(-MAX_CHARS));
        offset = r.offset;
        setError(undefined);
      } catch (e) {
        if (!stopped) setError(e);
      }
      if (!stopped) timer = setTimeout(tick, 1000);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);

  useEffect(() => {
    if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text, follow]);

  return (
    <main className="page page-fill">
      <div className="page-head">
        <h1>Server log</h1>
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow new lines
        </label>
      </div>
      <ErrorBox error={error} />
      {!exists && <p className="muted">This server writes no log file (it runs in the foreground or inside a program: its log goes there).</p>}
      <pre className="code log" ref={pre} tabIndex={0} aria-label="Server log" data-testid="server-log">
        {text}
      </pre>
    </main>
  );
}
