/**
 * A dispatch's graph (@xyflow/react): laid out once, then only node statuses
 * change. Node objects are reused for nodes whose status and selection did
 * not change, so a turn that touches ten nodes of three thousand re-renders
 * ten. Off-screen nodes are not rendered in large graphs.
 */
import { memo, useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from "react";
import {
  Background,
  Controls,
  Handle,
  MiniMap,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Edge,
  type Node,
  type NodeChange,
  type NodeProps,
} from "@xyflow/react";
import type { GraphEdge, GraphNode, Status } from "../api";
import { statusLabel, statusTone } from "../format";
import { layout, nodeSize, type Positions } from "./layout";
import { useMeasuredSizes } from "./measured";

type VData = { name: string; kind: string; status: Status; executor: string; sub: boolean; inner: boolean; cached: boolean };
type VNode = Node<VData, "valence">;

const VNodeView = memo(function VNodeView({ data, selected }: NodeProps<VNode>) {
  const quiet = data.kind !== "electron" && data.kind !== "sublattice";
  return (
    <div
      className={`vnode kind-${data.kind} tone-${statusTone(data.status)}${quiet ? " quiet" : ""}${data.inner ? " inner" : ""}${selected ? " selected" : ""}`}
      data-status={data.status}
      data-name={data.name}
      title={`${data.name} · ${data.kind} · ${statusLabel(data.status)}`}
    >
      <Handle type="target" position={Position.Top} isConnectable={false} />
      <span className="vnode-dot" aria-hidden="true" />
      <span className="vnode-text">
        <span className="vnode-name">{data.name}</span>
        {!quiet && (
          <span className="vnode-meta">
            {data.sub ? `sublattice · ${data.executor || "run"}` : data.executor || data.kind}
            {data.cached ? " · cached" : ""}
          </span>
        )}
      </span>
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </div>
  );
});

const nodeTypes = { valence: VNodeView };
const FIT = { padding: 0.15, maxZoom: 1.2 };
const PRO = { hideAttribution: true };
const miniMapClass = (n: Node) => `mm tone-${statusTone((n.data as VData).status)}`;
/** Below this zoom nodes are drawn as plain boxes. */
const FAR_ZOOM = 0.35;

export interface DispatchGraphProps {
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  readonly statuses: ReadonlyMap<number, Status>;
  readonly selected: number | null;
  readonly onSelect: (node: number | null) => void;
  /** Ids from here on are nodes of expanded sublattice runs (drawn as such). */
  readonly innerFrom?: number;
  /** Controls drawn beside the find box. */
  readonly children?: ReactNode;
}

export const DispatchGraph = memo(function DispatchGraph(props: DispatchGraphProps) {
  return (
    <ReactFlowProvider>
      <Inner {...props} />
    </ReactFlowProvider>
  );
});

function Inner({ nodes, edges, statuses, selected, onSelect, innerFrom = Infinity, children }: DispatchGraphProps) {
  const [positions, setPositions] = useState<Positions>();
  const [layoutMs, setLayoutMs] = useState<number>();
  const flow = useReactFlow();

  const nodesCount = useRef(nodes.length);
  nodesCount.current = nodes.length;
  const selectedRef = useRef(selected);
  selectedRef.current = selected;
  const centerOnRef = useRef((_: number) => {});
  const shape = useMemo(() => edges.map((e) => `${e.source}>${e.target}`).join(","), [edges]);
  useEffect(() => {
    let live = true;
    const t0 = performance.now();
    // The old drawing stays up while the new layout is computed (a sublattice opening or closing).
    layout({ nodes: nodes.map((n) => ({ id: n.nodeId, ...nodeSize(n.kind) })), edges }).then(
      (p) => {
        if (!live) return;
        setLayoutMs(performance.now() - t0);
        setPositions((old) => {
          // A later layout of the same dispatch: show everything, or in a big graph the selected node.
          // After the render that places the nodes (hence a timer, not the next frame).
          if (old) {
            const fit = () => void flow.fitView({ ...FIT, duration: 300 });
            setTimeout(() => (selectedRef.current !== null && nodesCount.current > 60 ? centerOnRef.current(selectedRef.current) : fit()), 50);
          }
          return p;
        });
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
    // The shape only: node records are refreshed while a dispatch runs, and must not restart the layout.
  }, [nodes.length, shape]);

  const sizes = useMeasuredSizes();
  // Rebuild only what changed: a node object per (status, selection).
  const cache = useRef(new Map<number, VNode>());
  const flowNodes = useMemo(() => {
    if (!positions) return [];
    const out: VNode[] = [];
    for (const n of nodes) {
      if (!positions[n.nodeId]) continue; // new since the last layout: drawn once the next one is in
      const status = statuses.get(n.nodeId) ?? n.status;
      const isSel = selected === n.nodeId;
      const old = cache.current.get(n.nodeId);
      if (
        old &&
        old.data.status === status &&
        !!old.selected === isSel &&
        old.position === positions[n.nodeId] &&
        old.data.sub === !!n.subDispatchId &&
        old.data.cached === !!n.cached &&
        old.data.name === n.name
      ) {
        out.push(old);
        continue;
      }
      const size = nodeSize(n.kind);
      const node: VNode = {
        id: String(n.nodeId),
        type: "valence",
        position: positions[n.nodeId] ?? { x: 0, y: 0 },
        data: { name: n.name, kind: n.kind, status, executor: n.executor, sub: !!n.subDispatchId, inner: n.nodeId >= innerFrom, cached: !!n.cached },
        selected: isSel,
        width: size.width,
        height: size.height,
        measured: sizes.of(String(n.nodeId)),
        draggable: false,
        connectable: false,
        ariaLabel: `${n.name}, ${n.kind}, ${statusLabel(status)}`,
      };
      cache.current.set(n.nodeId, node);
      out.push(node);
    }
    return out;
  }, [nodes, positions, statuses, selected]);

  // Edges into running nodes are highlighted; the others keep their objects, so only those few are redrawn.
  const edgeCache = useRef(new Map<number, Edge>());
  const flowEdges = useMemo<Edge[]>(() => {
    const simple = edges.length > 1000;
    const out: Edge[] = [];
    edges.forEach((e, i) => {
      if (!positions?.[e.source] || !positions[e.target]) return;
      const running = (statuses.get(e.target) ?? "") === "RUNNING";
      const old = edgeCache.current.get(i);
      if (old && old.source === String(e.source) && old.target === String(e.target) && (old.className === "edge-active") === running) {
        out.push(old);
        return;
      }
      const edge: Edge = {
        id: `e${i}`,
        source: String(e.source),
        target: String(e.target),
        type: simple ? "straight" : "default",
        animated: running && !simple,
        className: running ? "edge-active" : "",
        focusable: false,
        selectable: false,
      };
      edgeCache.current.set(i, edge);
      out.push(edge);
    });
    return out;
  }, [edges, statuses, positions]);

  // Zoomed far out, names are unreadable anyway: drop them, and thousands of nodes paint fast.
  const [far, setFar] = useState(false);

  // Stable handlers: a new prop makes React Flow update its store, and every node's subscription runs.
  const onNodesChange = useCallback(
    (changes: NodeChange<VNode>[]) => {
      sizes.record(changes);
      for (const c of changes) if (c.type === "select" && c.selected) onSelect(Number(c.id));
    },
    [onSelect],
  );
  const onNodeClick = useCallback((_: unknown, n: VNode) => onSelect(Number(n.id)), [onSelect]);
  const onPaneClick = useCallback(() => onSelect(null), [onSelect]);
  const onInit = useCallback((inst: { getZoom: () => number }) => setFar(inst.getZoom() < FAR_ZOOM), []);
  const onMoveEnd = useCallback((_: unknown, v: { zoom: number }) => setFar(v.zoom < FAR_ZOOM), []);

  // Keep the selected node in view when it is chosen from elsewhere (search, keyboard).
  const centerOn = (id: number) => {
    const p = positions?.[id];
    if (!p) return;
    const size = nodeSize(nodes[id]?.kind ?? "electron");
    void flow.setCenter(p.x + size.width / 2, p.y + size.height / 2, { zoom: Math.max(flow.getZoom(), 0.9), duration: 300 });
  };

  centerOnRef.current = centerOn;

  const [find, setFind] = useState("");
  const findNext = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    const text = find.trim().toLowerCase();
    if (!text) return;
    const start = selected === null ? 0 : selected + 1;
    for (let k = 0; k < nodes.length; k++) {
      const n = nodes[(start + k) % nodes.length];
      if (n && (n.name.toLowerCase().includes(text) || String(n.nodeId) === text)) {
        onSelect(n.nodeId);
        centerOn(n.nodeId);
        return;
      }
    }
  };

  // When the panel opens or the window resizes, keep the same point of the graph in the middle.
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let last = { w: el.clientWidth, h: el.clientHeight };
    const ro = new ResizeObserver(() => {
      const now = { w: el.clientWidth, h: el.clientHeight };
      if (now.w === last.w && now.h === last.h) return; // the first call, on observe
      const v = flow.getViewport();
      void flow.setViewport({ x: v.x + (now.w - last.w) / 2, y: v.y + (now.h - last.h) / 2, zoom: v.zoom });
      last = now;
    });
    ro.observe(el);
    return () => ro.disconnect();
    // Once, when the graph is first drawn: `flow` is a new object on every render, and reading
    // clientWidth forces a layout of every node.
  }, [!!positions]);

  const big = nodes.length > 300;
  if (!positions) {
    return (
      <div className="graph-wait" role="status">
        Laying out {nodes.length.toLocaleString()} nodes…
      </div>
    );
  }
  return (
    <div className={`graph${far ? " far" : ""}${nodes.length > 1000 ? " huge" : ""}`} ref={box} data-testid="graph" data-layout-ms={layoutMs?.toFixed(0)}>
      <ReactFlow<VNode>
        nodes={flowNodes}
        edges={flowEdges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onNodeClick={onNodeClick}
        onPaneClick={onPaneClick}
        onInit={onInit}
        onMoveEnd={onMoveEnd}
        nodesDraggable={false}
        nodesConnectable={false}
        edgesFocusable={false}
        onlyRenderVisibleElements={big}
        fitView
        fitViewOptions={FIT}
        minZoom={0.02}
        maxZoom={2.5}
        proOptions={PRO}
        colorMode="system"
      >
        <Background gap={24} size={1} />
        <Controls showInteractive={false} />
        {nodes.length <= 5000 && <MiniMap pannable zoomable nodeClassName={miniMapClass} />}
        <div className="graph-find">
          <input
            type="search"
            aria-label="Find a node by name or id (Enter for the next match)"
            placeholder="Find node…"
            value={find}
            onChange={(e) => setFind(e.target.value)}
            onKeyDown={findNext}
          />
          {children}
        </div>
      </ReactFlow>
    </div>
  );
}
