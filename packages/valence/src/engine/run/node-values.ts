/**
 * The outputs of a dispatch's nodes while it runs, by node id: the value
 * itself once a task in this process made it or someone needed it, else the
 * encoded form (a resumed node, a remote task's reply), decoded on first use.
 * Typed arrays and plain slots, no Map: a wide dispatch has 100k of them.
 */
import { decode } from "../../codec/index.js";
import { ValenceError } from "../../errors.js";
import type { OutputTemplate } from "../../sdk/graph.js";
import { setAtPath } from "../../sdk/graph.js";

export class NodeValues {
  private readonly values: unknown[];
  private readonly has: Uint8Array;
  private readonly encoded: Array<string | undefined>;

  constructor(n: number) {
    this.values = new Array<unknown>(n);
    this.has = new Uint8Array(n);
    this.encoded = new Array<string | undefined>(n);
  }

  set(node: number, v: unknown): void {
    this.values[node] = v;
    this.has[node] = 1;
  }

  /** The encoded output, decoded only when a consumer asks for the value. */
  setEncoded(node: number, encoded: string): void {
    this.encoded[node] = encoded;
  }

  /** `get`, bound once: the input helpers take it for every node. */
  readonly get = (node: number): unknown => {
    if (this.has[node]) return this.values[node];
    const enc = this.encoded[node];
    if (enc === undefined) throw new ValenceError(`internal: output of node ${node} is not available`);
    const v = decode(enc);
    this.set(node, v);
    return v;
  };

  /** The lattice's return value: its template with each hole filled by its node's output. */
  fill(t: OutputTemplate): unknown {
    let out = t.holes.length && t.holes.every((h) => h.path.length) ? structuredClone(t.value) : t.value;
    for (const h of t.holes) out = setAtPath(out, h.path, this.get(h.nodeId));
    return out;
  }
}
