/**
 * Top-down layout of a dispatch's graph with dagre. Runs in a worker
 * (layout-worker.ts) so that laying out thousands of nodes never freezes the
 * page; `layoutSync` is the same function for the worker to call.
 */
import dagre from "@dagrejs/dagre";

export interface LayoutNode {
  readonly id: number;
  readonly width: number;
  readonly height: number;
}

export interface LayoutInput {
  readonly nodes: readonly LayoutNode[];
  readonly edges: ReadonlyArray<{ readonly source: number; readonly target: number }>;
}

/** Top-left corner of each node, by node id. */
export type Positions = Record<number, { x: number; y: number }>;

/** How big each kind of node is drawn: parameters and plumbing nodes are smaller, quieter. */
export function nodeSize(kind: string): { width: number; height: number } {
  switch (kind) {
    case "electron":
      return { width: 176, height: 46 };
    case "sublattice":
      return { width: 220, height: 52 };
    default:
      return { width: 150, height: 28 };
  }
}

/** Above this many nodes dagre takes tens of seconds; the plain layered layout takes milliseconds. */
const DAGRE_MAX_NODES = 4000;

export function layoutSync(input: LayoutInput): Positions {
  if (input.nodes.length > DAGRE_MAX_NODES) return layeredLayout(input);
  try {
    return dagreLayout(input);
  } catch {
    // dagre recurses along paths: a chain of a few thousand nodes overflows the stack.
    return layeredLayout(input);
  }
}

function dagreLayout(input: LayoutInput): Positions {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  const big = input.nodes.length > 1000;
  g.setGraph({ rankdir: "TB", nodesep: big ? 12 : 24, ranksep: big ? 40 : 56, marginx: 16, marginy: 16, ranker: big ? "longest-path" : "network-simplex" });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of input.nodes) g.setNode(String(n.id), { width: n.width, height: n.height });
  for (const e of input.edges) if (e.source !== e.target) g.setEdge(String(e.source), String(e.target));
  dagre.layout(g);
  const out: Positions = {};
  for (const n of input.nodes) {
    const p = g.node(String(n.id));
    out[n.id] = { x: (p?.x ?? 0) - n.width / 2, y: (p?.y ?? 0) - n.height / 2 };
  }
  return out;
}

/** Up to this many nodes dagre takes a few milliseconds: less than starting a worker. */
const IN_PAGE_MAX_NODES = 100;

/** Lays out in a worker (small graphs, such as a grouped one, in this thread); falls back to this thread if workers are unavailable. */
export function layout(input: LayoutInput): Promise<Positions> {
  if (typeof Worker === "undefined" || input.nodes.length <= IN_PAGE_MAX_NODES) {
    try {
      return Promise.resolve(layoutSync(input));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./layout-worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (e: MessageEvent<Positions>) => {
      resolve(e.data);
      worker.terminate();
    };
    worker.onerror = (e) => {
      worker.terminate();
      try {
        resolve(layoutSync(input));
      } catch {
        reject(new Error(`layout failed: ${e.message}`));
      }
    };
    worker.postMessage(input);
  });
}

/**
 * A plain top-down layered layout: rank = longest path from a source, order
 * within a rank by the mean position of the parents (one sweep). Linear time,
 * no recursion; less tidy than dagre, used where dagre cannot go.
 */
export function layeredLayout(input: LayoutInput, gapX = 16, gapY = 48): Positions {
  const byId = new Map(input.nodes.map((n) => [n.id, n]));
  const children = new Map<number, number[]>();
  const parents = new Map<number, number[]>();
  const indegree = new Map<number, number>(input.nodes.map((n) => [n.id, 0]));
  for (const e of input.edges) {
    if (e.source === e.target || !byId.has(e.source) || !byId.has(e.target)) continue;
    (children.get(e.source) ?? children.set(e.source, []).get(e.source)!).push(e.target);
    (parents.get(e.target) ?? parents.set(e.target, []).get(e.target)!).push(e.source);
    indegree.set(e.target, (indegree.get(e.target) ?? 0) + 1);
  }
  const rank = new Map<number, number>();
  const queue = input.nodes.filter((n) => indegree.get(n.id) === 0).map((n) => n.id);
  for (const id of queue) rank.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i] as number;
    for (const c of children.get(id) ?? []) {
      rank.set(c, Math.max(rank.get(c) ?? 0, (rank.get(id) ?? 0) + 1));
      const left = (indegree.get(c) ?? 1) - 1;
      indegree.set(c, left);
      if (left === 0) queue.push(c);
    }
  }
  const rows: number[][] = [];
  for (const n of input.nodes) {
    const r = rank.get(n.id) ?? 0; // a node on a cycle (never in a valid dispatch) lands on top
    (rows[r] ??= []).push(n.id);
  }
  const out: Positions = {};
  const centre = new Map<number, number>();
  let y = 0;
  for (const row of rows) {
    if (!row) continue;
    const key = (id: number) => {
      const ps = parents.get(id);
      if (!ps?.length) return centre.get(id) ?? id;
      return ps.reduce((sum, p) => sum + (centre.get(p) ?? 0), 0) / ps.length;
    };
    const keyed = row.map((id) => [key(id), id] as const).sort((a, b) => a[0] - b[0]);
    const width = keyed.reduce((w, [, id]) => w + (byId.get(id)?.width ?? 0) + gapX, -gapX);
    let x = -width / 2;
    let height = 0;
    for (const [, id] of keyed) {
      const n = byId.get(id) as LayoutNode;
      out[id] = { x, y };
      centre.set(id, x + n.width / 2);
      x += n.width + gapX;
      height = Math.max(height, n.height);
    }
    y += height + gapY;
  }
  return out;
}
