/**
 * The task-stream timeline: one row per executor lane (a local worker, an SSH
 * host, …), one bar per task from its start to its end, coloured by electron;
 * zoom (wheel, buttons) and pan (drag), a tooltip on hover, a click opens the
 * node's panel. Live while the dispatch runs: the columns are fetched again,
 * one fetch at a time, at most every REFETCH_MIN_GAP_MS (or twice the last
 * fetch's time), as the grouped graph does.
 *
 * Drawn on a <canvas>, not as DOM or SVG elements: 10k–100k bars as elements
 * would cost a node each to lay out, style and hit-test on every zoom, while
 * a canvas redraws them in a few milliseconds from the reply's arrays (no
 * per-bar objects). It needs no charting library: bars on rows are a few
 * fillRect calls. For tests and assistive technology, the lanes are listed
 * as text and the first MAX_TABLE_ROWS bars are in a visually hidden table.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, type TimelineReply } from "../api";
import { ErrorBox } from "../components/common";
import { formatTime } from "../format";

const REFETCH_MIN_GAP_MS = 500;
const ROW_HEIGHT = 24;
const BAR_HEIGHT = 16;
const LABEL_WIDTH = 150;
const AXIS_HEIGHT = 22;
const MAX_TABLE_ROWS = 1000;
const UNKNOWN_LANE = "(lane unknown)";

/** Electron `i`'s colour: hues a golden angle apart, so neighbours differ. */
export function electronColour(i: number): string {
  return `hsl(${(i * 137.508) % 360}, 62%, 52%)`;
}

interface Layout {
  /** Row of each lane index (lane -1 is the last row, when there is one). */
  readonly rows: readonly string[];
  /** Bars of each row, as indexes into the reply's arrays. */
  readonly byRow: readonly number[][];
  readonly min: number;
  readonly max: number;
}

function layoutOf(t: TimelineReply): Layout {
  const unknown = t.lane.some((l) => l < 0);
  const rows = unknown ? [...t.lanes, UNKNOWN_LANE] : [...t.lanes];
  const byRow: number[][] = rows.map(() => []);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < t.nodeId.length; i++) {
    const l = t.lane[i] as number;
    (byRow[l < 0 ? rows.length - 1 : l] as number[]).push(i);
    const s = t.start[i] as number;
    const e = t.end[i] ?? t.now;
    if (s < min) min = s;
    if (e > max) max = e;
  }
  if (!Number.isFinite(min)) {
    min = t.now;
    max = t.now + 1;
  }
  if (max <= min) max = min + 1;
  return { rows, byRow, min, max };
}

const ms = (n: number) => (n < 1000 ? `${Math.round(n)} ms` : n < 60_000 ? `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)} s` : `${(n / 60_000).toFixed(1)} min`);

export function Timeline({ dispatchId, running, onSelect }: { dispatchId: string; running: boolean; onSelect: (node: number) => void }) {
  const [data, setData] = useState<TimelineReply>();
  const [error, setError] = useState<unknown>();
  /** The shown time range; undefined: all of it. */
  const [range, setRange] = useState<{ t0: number; t1: number }>();
  const [hover, setHover] = useState<{ i: number; x: number; y: number }>();
  const [width, setWidth] = useState(800);
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);

  const load = useCallback(async () => {
    try {
      setData(await api.timeline(dispatchId));
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, [dispatchId]);

  useEffect(() => {
    void load();
  }, [load]);

  // Live: one fetch at a time, spaced by at least REFETCH_MIN_GAP_MS.
  useEffect(() => {
    if (!running) return;
    let stop = false;
    let timer = 0;
    let gap = REFETCH_MIN_GAP_MS;
    const tick = async () => {
      const t0 = performance.now();
      await load();
      gap = Math.max(REFETCH_MIN_GAP_MS, 2 * (performance.now() - t0));
      if (!stop) timer = window.setTimeout(tick, gap);
    };
    timer = window.setTimeout(tick, gap);
    return () => {
      stop = true;
      clearTimeout(timer);
      // The last changes: fetched once more when it ends.
      void load();
    };
  }, [running, load]);

  useEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setWidth(Math.max(300, el.clientWidth)));
    ro.observe(el);
    setWidth(Math.max(300, el.clientWidth));
    return () => ro.disconnect();
  }, []);

  const layout = useMemo(() => (data ? layoutOf(data) : undefined), [data]);
  const t0 = range?.t0 ?? layout?.min ?? 0;
  const t1 = range?.t1 ?? layout?.max ?? 1;
  const plot = width - LABEL_WIDTH;
  const height = AXIS_HEIGHT + (layout?.rows.length ?? 0) * ROW_HEIGHT + 4;
  const xOf = useCallback((t: number) => LABEL_WIDTH + ((t - t0) / (t1 - t0)) * plot, [t0, t1, plot]);

  // Draw: every bar of every row, clipped to the plot; bars under a pixel wide are drawn a pixel wide.
  useEffect(() => {
    const c = canvas.current;
    if (!c || !data || !layout) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round(width * dpr);
    c.height = Math.round(height * dpr);
    const g = c.getContext("2d");
    if (!g) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const style = getComputedStyle(c);
    const fg = style.getPropertyValue("--text").trim() || "#222";
    const muted = style.getPropertyValue("--muted").trim() || "#888";
    const border = style.getPropertyValue("--border").trim() || "#ddd";
    g.clearRect(0, 0, width, height);
    g.font = "12px system-ui, sans-serif";
    g.textBaseline = "middle";
    // Axis: about one tick per 120 px.
    const span = t1 - t0;
    const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 300_000, 600_000, 3_600_000];
    const step = steps.find((s) => (s / span) * plot >= 120) ?? steps[steps.length - 1]!;
    g.fillStyle = muted;
    g.strokeStyle = border;
    const origin = layout.min;
    for (let t = Math.ceil((t0 - origin) / step) * step; t <= t1 - origin; t += step) {
      const x = xOf(origin + t);
      g.fillRect(x, AXIS_HEIGHT - 4, 1, 4);
      g.fillText(`+${ms(t)}`, x + 3, AXIS_HEIGHT / 2);
      g.globalAlpha = 0.25;
      g.fillRect(x, AXIS_HEIGHT, 1, height - AXIS_HEIGHT);
      g.globalAlpha = 1;
    }
    layout.rows.forEach((name, r) => {
      const y = AXIS_HEIGHT + r * ROW_HEIGHT;
      g.fillStyle = fg;
      g.fillText(name.length > 20 ? `${name.slice(0, 19)}…` : name, 6, y + ROW_HEIGHT / 2);
      g.fillStyle = border;
      g.fillRect(0, y + ROW_HEIGHT - 1, width, 1);
    });
    g.save();
    g.beginPath();
    g.rect(LABEL_WIDTH, AXIS_HEIGHT, plot, height - AXIS_HEIGHT);
    g.clip();
    const failed = data.statuses.indexOf("FAILED");
    const cancelled = data.statuses.indexOf("CANCELLED");
    layout.byRow.forEach((bars, r) => {
      const y = AXIS_HEIGHT + r * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2;
      for (const i of bars) {
        const s = data.start[i] as number;
        const e = data.end[i] ?? data.now;
        if (e < t0 || s > t1) continue;
        const x = xOf(s);
        const w = Math.max(1, xOf(e) - x);
        g.fillStyle = electronColour(data.electron[i] as number);
        g.fillRect(x, y, w, BAR_HEIGHT);
        const st = data.status[i];
        if (st === failed || st === cancelled || data.end[i] === null) {
          // Failed: a red edge; cancelled: grey; running: an open end.
          g.fillStyle = st === failed ? "#d33" : st === cancelled ? "#888" : fg;
          g.fillRect(x, y + BAR_HEIGHT - 3, w, 3);
        }
      }
    });
    g.restore();
  }, [data, layout, width, height, t0, t1, plot, xOf]);

  /** The bar under a point of the canvas, if any (a linear scan of one row: 10k bars take well under a millisecond). */
  const barAt = useCallback(
    (px: number, py: number): number | undefined => {
      if (!data || !layout || px < LABEL_WIDTH) return undefined;
      const r = Math.floor((py - AXIS_HEIGHT) / ROW_HEIGHT);
      const bars = layout.byRow[r];
      if (!bars) return undefined;
      const t = t0 + ((px - LABEL_WIDTH) / plot) * (t1 - t0);
      const slop = (2 / plot) * (t1 - t0);
      let best: number | undefined;
      for (const i of bars) {
        const s = data.start[i] as number;
        const e = data.end[i] ?? data.now;
        if (t >= s - slop && t <= e + slop && (best === undefined || s >= (data.start[best] as number))) best = i;
      }
      return best;
    },
    [data, layout, t0, t1, plot],
  );

  const zoom = useCallback(
    (factor: number, at?: number) => {
      if (!layout) return;
      const center = at ?? (t0 + t1) / 2;
      const span = Math.max(1, (t1 - t0) * factor);
      const full = layout.max - layout.min;
      if (span >= full) return setRange(undefined);
      const left = center - ((center - t0) / (t1 - t0)) * span;
      setRange({ t0: left, t1: left + span });
    },
    [layout, t0, t1],
  );

  // Wheel zooms around the cursor; a listener of its own, as React's is passive and cannot stop the page scrolling.
  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const onWheel = (e: WheelEvent) => {
      const rect = c.getBoundingClientRect();
      const px = e.clientX - rect.left;
      if (px < LABEL_WIDTH) return;
      e.preventDefault();
      zoom(e.deltaY > 0 ? 1.25 : 0.8, t0 + ((px - LABEL_WIDTH) / plot) * (t1 - t0));
    };
    c.addEventListener("wheel", onWheel, { passive: false });
    return () => c.removeEventListener("wheel", onWheel);
  }, [zoom, t0, t1, plot]);

  const drag = useRef<{ x: number; t0: number; t1: number; moved: boolean } | undefined>(undefined);
  const local = (e: React.PointerEvent<HTMLCanvasElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    return { px: e.clientX - rect.left, py: e.clientY - rect.top };
  };

  const table = useMemo(() => {
    if (!data) return [];
    const n = Math.min(MAX_TABLE_ROWS, data.nodeId.length);
    return Array.from({ length: n }, (_, i) => i);
  }, [data]);

  const h = hover && data ? hover.i : undefined;
  return (
    <div className="timeline" data-testid="timeline">
      <div className="graph-tools timeline-tools">
        <span className="graph-note" data-testid="timeline-note">
          {data ? `${data.nodeId.length.toLocaleString()} tasks on ${layout?.rows.length ?? 0} ${layout?.rows.length === 1 ? "lane" : "lanes"}` : "Loading…"}
        </span>
        <button type="button" className="btn small" onClick={() => zoom(0.5)} aria-label="Zoom in">
          +
        </button>
        <button type="button" className="btn small" onClick={() => zoom(2)} aria-label="Zoom out">
          −
        </button>
        <button type="button" className="btn small" onClick={() => setRange(undefined)} disabled={!range}>
          Show all
        </button>
        {data && data.electrons.length > 0 && (
          <span className="timeline-legend" aria-label="Electrons">
            {data.electrons.slice(0, 12).map((name, i) => (
              <span key={name} className="legend-item">
                <span className="swatch" style={{ background: electronColour(i) }} aria-hidden="true" /> {name}
              </span>
            ))}
          </span>
        )}
      </div>
      <ErrorBox error={error} />
      <div className="timeline-canvas" ref={wrap}>
        <canvas
          ref={canvas}
          role="img"
          aria-label="Tasks over time, one row per lane"
          data-testid="timeline-canvas"
          data-t0={t0}
          data-t1={t1}
          data-label-width={LABEL_WIDTH}
          data-axis-height={AXIS_HEIGHT}
          data-row-height={ROW_HEIGHT}
          data-bars={data?.nodeId.length ?? 0}
          style={{ width, height, cursor: h !== undefined ? "pointer" : drag.current ? "grabbing" : "default" }}
          onPointerDown={(e) => {
            drag.current = { x: e.clientX, t0, t1, moved: false };
            e.currentTarget.setPointerCapture(e.pointerId);
          }}
          onPointerMove={(e) => {
            const d = drag.current;
            if (d) {
              const dx = e.clientX - d.x;
              if (Math.abs(dx) > 3) d.moved = true;
              if (d.moved) {
                const dt = (-dx / plot) * (d.t1 - d.t0);
                setRange({ t0: d.t0 + dt, t1: d.t1 + dt });
                setHover(undefined);
                return;
              }
            }
            const { px, py } = local(e);
            const i = barAt(px, py);
            setHover(i === undefined ? undefined : { i, x: px, y: py });
          }}
          onPointerUp={(e) => {
            const d = drag.current;
            drag.current = undefined;
            if (d?.moved) return;
            const { px, py } = local(e);
            const i = barAt(px, py);
            if (i !== undefined && data) onSelect(data.nodeId[i] as number);
          }}
          onPointerLeave={() => setHover(undefined)}
        />
        {h !== undefined && data && hover && (
          <div className="timeline-tip" role="tooltip" data-testid="timeline-tip" style={{ left: Math.min(hover.x + 12, width - 260), top: hover.y + 14 }}>
            <strong>{data.electrons[data.electron[h] as number]}</strong>
            <div>node {data.nodeId[h]}</div>
            <div>lane: {layout?.rows[(data.lane[h] as number) < 0 ? layout.rows.length - 1 : (data.lane[h] as number)]}</div>
            <div>start: {formatTime(data.start[h] as number)}</div>
            <div>duration: {ms((data.end[h] ?? data.now) - (data.start[h] as number))}{data.end[h] === null ? " so far" : ""}</div>
            <div>status: {data.statuses[data.status[h] as number]}</div>
          </div>
        )}
      </div>
      <ul className="visually-hidden" data-testid="timeline-lanes" aria-label="Lanes">
        {layout?.rows.map((r) => (
          <li key={r}>{r}</li>
        ))}
      </ul>
      <table className="visually-hidden" data-testid="timeline-bars" aria-label={`Tasks, in start order${data && data.nodeId.length > MAX_TABLE_ROWS ? ` (first ${MAX_TABLE_ROWS})` : ""}`}>
        <thead>
          <tr>
            <th>Node</th>
            <th>Electron</th>
            <th>Lane</th>
            <th>Start</th>
            <th>End</th>
            <th>Status</th>
          </tr>
        </thead>
        <tbody>
          {data &&
            table.map((i) => (
              <tr
                key={data.nodeId[i]}
                data-node={data.nodeId[i]}
                data-start={data.start[i]}
                data-end={data.end[i] ?? ""}
                data-lane={(data.lane[i] as number) < 0 ? UNKNOWN_LANE : data.lanes[data.lane[i] as number]}
              >
                <td>{data.nodeId[i]}</td>
                <td>{data.electrons[data.electron[i] as number]}</td>
                <td>{(data.lane[i] as number) < 0 ? UNKNOWN_LANE : data.lanes[data.lane[i] as number]}</td>
                <td>{formatTime(data.start[i] as number)}</td>
                <td>{data.end[i] === null ? "running" : formatTime(data.end[i] as number)}</td>
                <td>{data.statuses[data.status[i] as number]}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </div>
  );
}
