/**
 * A large dispatch's graph, grouped: one node per group of repeated
 * electrons (`inc × 5,000`) with a progress bar split by status, the counts,
 * the spread of durations and the executors; edges between groups say how
 * many node edges each stands for. Laid out once per shape (a handful of
 * nodes, in the layout worker); new counts redraw the groups in place.
 */
import { memo, useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { Background, Controls, Handle, Position, ReactFlow, ReactFlowProvider, useReactFlow, type Edge, type Node, type NodeChange, type NodeProps } from "@xyflow/react";
import type { Bucket, Counts, GroupEdge, GroupView } from "../api";
import { layout, type Positions } from "./layout";
import { useMeasuredSizes } from "./measured";

type GData = { group: GroupView; open: boolean };
type GNode = Node<GData, "group">;

/** Bucket → the tone class it is drawn in, and its label. */
export const BUCKET_TONE: Readonly<Record<Bucket, string>> = { completed: "done", running: "active", failed: "failed", pending: "idle", cancelled: "cancelled" };
export const BUCKET_ORDER: readonly Bucket[] = ["completed", "running", "failed", "cancelled", "pending"];

const n = (x: number) => x.toLocaleString();

export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** The colour a group is outlined in: failures first, then work under way, then done. */
export function groupTone(c: Counts): string {
  if (c.failed) return "failed";
  if (c.running) return "active";
  if (c.pending) return c.completed || c.cancelled ? "active" : "idle";
  if (c.cancelled) return "cancelled";
  return "done";
}

/** A bar split by status, widths by count. */
export function StatusBar({ counts, total, label }: { counts: Counts; total: number; label: string }) {
  return (
    <div className="gbar" role="img" aria-label={label}>
      {BUCKET_ORDER.map((b) =>
        counts[b] ? <span key={b} className={`gbar-seg tone-${BUCKET_TONE[b]}`} data-bucket={b} style={{ width: `${(100 * counts[b]) / Math.max(1, total)}%` }} /> : null,
      )}
    </div>
  );
}

/** Durations of the finished nodes in a few characters: the median and the range. */
export function spreadText(d: NonNullable<GroupView["durations"]>): string {
  if (d.min === d.max) return d.finished > 1 ? `${formatMs(d.min)} each` : formatMs(d.min);
  return `median ${formatMs(d.median)} · ${formatMs(d.min)}–${formatMs(d.max)}`;
}

export function countsText(c: Counts): string {
  const parts = BUCKET_ORDER.filter((b) => c[b]).map((b) => `${n(c[b])} ${b}`);
  return parts.join(" · ") || "no nodes";
}

const GroupNodeView = memo(function GroupNodeView({ data, selected }: NodeProps<GNode>) {
  const g = data.group;
  const quiet = g.parameter || (g.kind !== "electron" && g.kind !== "sublattice");
  const d = g.durations;
  const label = `${g.name} × ${n(g.size)}: ${countsText(g.counts)}`;
  return (
    <div
      className={`gnode kind-${g.kind} tone-${groupTone(g.counts)}${quiet ? " quiet" : ""}${g.size === 1 ? " single" : ""}${selected || data.open ? " selected" : ""}`}
      data-group={g.id}
      data-name={g.name}
      data-size={g.size}
      title={label}
    >
      <Handle type="target" position={Position.Top} isConnectable={false} />
      <div className="gnode-title">
        <span className="gnode-name">{g.name}</span>
        <span className="gnode-size">× {n(g.size)}</span>
      </div>
      <StatusBar counts={g.counts} total={g.size} label={countsText(g.counts)} />
      <div className="gnode-counts" data-testid="group-counts">
        {countsText(g.counts)}
      </div>
      <div className="gnode-meta">
        {d ? spreadText(d) : g.parameter ? "values" : "not run yet"}
        {g.executors.length ? ` · ${g.executors.join(", ")}` : ""}
      </div>
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </div>
  );
});

const nodeTypes = { group: GroupNodeView };
const FIT = { padding: 0.2, maxZoom: 1.1 };
const PRO = { hideAttribution: true };
const SIZE = { width: 264, height: 98 };

export interface GroupGraphProps {
  readonly groups: readonly GroupView[];
  readonly edges: readonly GroupEdge[];
  /** The group whose table is open. */
  readonly open: number | null;
  /** A group was chosen: a group of one opens its node, others their table. */
  readonly onOpen: (group: GroupView) => void;
  readonly onClear: () => void;
  /** Controls drawn over the graph (the parameters toggle). */
  readonly children?: ReactNode;
}

export const GroupGraph = memo(function GroupGraph(props: GroupGraphProps) {
  return (
    <ReactFlowProvider>
      <Inner {...props} />
    </ReactFlowProvider>
  );
});

function Inner({ groups, edges, open, onOpen, onClear, children }: GroupGraphProps) {
  const [positions, setPositions] = useState<Positions>();
  const flow = useReactFlow();
  // The shape only: counts change many times a second while the dispatch runs.
  const shape = useMemo(() => `${groups.map((g) => g.id).join(",")}|${edges.map((e) => `${e.source}>${e.target}`).join(",")}`, [groups, edges]);
  const first = useRef(true);
  useEffect(() => {
    let live = true;
    layout({ nodes: groups.map((g) => ({ id: g.id, ...SIZE })), edges }).then(
      (p) => {
        if (!live) return;
        setPositions(p);
        if (!first.current) setTimeout(() => void flow.fitView({ ...FIT, duration: 300 }), 50);
        first.current = false;
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [shape]);

  // The table opening under the graph (or the panel beside it) changes its size: fit the groups in again.
  const box = useRef<HTMLDivElement>(null);
  const hasPositions = !!positions;
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let last = { w: el.clientWidth, h: el.clientHeight };
    let timer = 0;
    const ro = new ResizeObserver(() => {
      const now = { w: el.clientWidth, h: el.clientHeight };
      if (now.w === last.w && now.h === last.h) return;
      last = now;
      clearTimeout(timer);
      timer = window.setTimeout(() => void flow.fitView({ ...FIT, duration: 200 }), 30);
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      clearTimeout(timer);
    };
  }, [hasPositions]);

  const sizes = useMeasuredSizes();
  const byId = useRef(new Map<number, GroupView>());
  byId.current = new Map(groups.map((g) => [g.id, g]));
  const flowNodes = useMemo<GNode[]>(
    () =>
      positions
        ? groups
            .filter((g) => positions[g.id])
            .map((g) => ({
              id: String(g.id),
              type: "group",
              position: positions[g.id] as { x: number; y: number },
              data: { group: g, open: open === g.id },
              selected: open === g.id,
              width: SIZE.width,
              height: SIZE.height,
              measured: sizes.of(String(g.id)),
              draggable: false,
              connectable: false,
              ariaLabel: `${g.name} × ${g.size}: ${countsText(g.counts)}`,
            }))
        : [],
    [groups, positions, open],
  );
  // Only edges between groups that are drawn, and made again once a new layout places new groups
  // (the parameters, shown): an edge handed to React Flow before its source node existed was
  // sometimes never drawn.
  const flowEdges = useMemo<Edge[]>(
    () =>
      edges.filter((e) => positions?.[e.source] && positions[e.target]).map((e) => ({
        id: `g${e.source}-${e.target}`,
        source: String(e.source),
        target: String(e.target),
        label: e.count > 1 ? n(e.count) : undefined,
        className: (byId.current.get(e.target)?.counts.running ?? 0) > 0 ? "edge-active" : "",
        focusable: false,
        selectable: false,
      })),
    [edges, groups, positions],
  );
  const onNodeClick = useCallback((_: unknown, node: GNode) => onOpen(node.data.group), [onOpen]);
  const onNodesChange = useCallback(
    (changes: NodeChange<GNode>[]) => {
      sizes.record(changes);
      for (const c of changes) {
        const g = c.type === "select" && c.selected ? byId.current.get(Number(c.id)) : undefined;
        if (g) onOpen(g);
      }
    },
    [onOpen],
  );

  if (!positions) {
    return (
      <div className="graph-wait" role="status">
        Laying out {groups.length.toLocaleString()} groups…
      </div>
    );
  }
  return (
    <div className="graph grouped" data-testid="group-graph" ref={box}>
      <ReactFlow<GNode>
        nodes={flowNodes}
        edges={flowEdges}
        nodeTypes={nodeTypes}
        onNodeClick={onNodeClick}
        onNodesChange={onNodesChange}
        onPaneClick={onClear}
        nodesDraggable={false}
        nodesConnectable={false}
        edgesFocusable={false}
        fitView
        fitViewOptions={FIT}
        minZoom={0.05}
        maxZoom={2}
        proOptions={PRO}
        colorMode="system"
      >
        <Background gap={24} size={1} />
        <Controls showInteractive={false} />
        <div className="graph-find">{children}</div>
      </ReactFlow>
    </div>
  );
}
