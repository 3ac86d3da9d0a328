/**
 * `Result`: what a dispatch produced, as Covalent users know it.
 */
import type { DispatchId, NodeId } from "../ids.js";
import type { Status } from "../status.js";
import { formatValue } from "./format-value.js";

export interface NodeResult {
  readonly nodeId: NodeId;
  readonly name: string;
  readonly kind: string;
  readonly status: Status;
  readonly output: unknown;
  readonly stdout: string;
  readonly stderr: string;
  readonly error: Error | undefined;
  /** Executor name (plugin name) the node ran on. */
  readonly executor: string | undefined;
  readonly attempts: number;
  /** While a failed try waits out its retry backoff (the node is RUNNING): when the next try is due. */
  readonly retryAt: Date | undefined;
  /** Its output was reused from an earlier run (an electron with `cache`): that dispatch and node. */
  readonly cachedFrom: { readonly dispatchId: DispatchId; readonly nodeId: NodeId } | undefined;
  readonly startTime: Date | undefined;
  readonly endTime: Date | undefined;
}

export interface ResultData<T> {
  readonly dispatchId: DispatchId;
  readonly latticeName: string;
  readonly status: Status;
  readonly result: T | undefined;
  readonly inputs: { readonly args: readonly unknown[]; readonly kwargs: Readonly<Record<string, unknown>> };
  readonly error: Error | undefined;
  readonly startTime: Date | undefined;
  readonly endTime: Date | undefined;
  readonly resultsDir: string;
  readonly nodes: readonly NodeResult[];
  readonly nodesDone: number;
  readonly nodeCount: number;
}

/** What `Result` is built from: the nodes are read on first use (a dispatch may have 100k). */
export type ResultInit<T> = Omit<ResultData<T>, "nodes"> & { readonly loadNodes: () => readonly NodeResult[] };

export class Result<T = unknown> implements ResultData<T> {
  readonly dispatchId!: DispatchId;
  readonly latticeName!: string;
  readonly status!: Status;
  readonly result!: T | undefined;
  readonly inputs!: ResultData<T>["inputs"];
  readonly error!: Error | undefined;
  readonly startTime!: Date | undefined;
  readonly endTime!: Date | undefined;
  readonly resultsDir!: string;
  readonly nodesDone!: number;
  readonly nodeCount!: number;
  #loadNodes: () => readonly NodeResult[];
  #nodes: readonly NodeResult[] | undefined;

  constructor(init: ResultInit<T>) {
    const { loadNodes, ...data } = init;
    Object.assign(this, data);
    this.#loadNodes = loadNodes;
  }

  /** Every node of the dispatch, in node id order. */
  get nodes(): readonly NodeResult[] {
    this.#nodes ??= this.#loadNodes();
    return this.#nodes;
  }

  /** The node with this id. */
  node(id: number): NodeResult | undefined {
    return this.nodes[id]?.nodeId === id ? this.nodes[id] : this.nodes.find((n) => n.nodeId === id);
  }

  /** Covalent's "Lattice Result … Node Outputs" text. */
  toString(): string {
    const lines = [
      "Lattice Result",
      "==============",
      `status: ${this.status}`,
      `result: ${formatValue(this.result)}`,
      `input args: ${formatValue(this.inputs.args)}`,
      `input kwargs: ${formatValue(this.inputs.kwargs)}`,
      `error: ${this.error ? errorText(this.error) : "None"}`,
      "",
      `start_time: ${formatTime(this.startTime)}`,
      `end_time: ${formatTime(this.endTime)}`,
      "",
      `results_dir: ${this.resultsDir}`,
      `dispatch_id: ${this.dispatchId}`,
      "",
      "Node Outputs",
      "------------",
    ];
    for (const n of this.nodes) {
      const shown = n.status === "COMPLETED" ? formatValue(n.output) : n.error ? `<${n.status}: ${n.error.message}>` : `<${n.status}>`;
      lines.push(`${n.name}(${n.nodeId}): ${shown}`);
    }
    return lines.join("\n") + "\n";
  }
}

function errorText(e: Error): string {
  return e.stack && e.stack.includes(e.message) ? e.stack : `${e.name}: ${e.message}`;
}

/** Covalent prints Python datetimes: `2026-11-25 20:59:01.123000+00:00`. */
export function formatTime(d: Date | undefined): string {
  if (!d) return "None";
  return d.toISOString().replace("T", " ").replace(/\.(\d{3})Z$/, ".$1000+00:00");
}
