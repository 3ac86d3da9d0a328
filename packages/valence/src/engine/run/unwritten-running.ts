/**
 * Nodes started whose RUNNING mark is not written yet, with the turn that
 * started them and their attempt (see DispatchRun). Kept in typed arrays
 * indexed by node rather than a Map of small objects: a wide dispatch starts
 * ten thousand nodes in one turn, and every entry would be garbage that
 * outlives a scavenge.
 */
export class UnwrittenRunning {
  /** The turn that started the node; 0 when it has no unwritten mark (turns count from 1). */
  private readonly turnOf: Int32Array;
  private readonly attemptOf: Int32Array;
  /** Nodes that may have a mark, in the order they started; `listed` says who is in it. */
  private order: number[] = [];
  private readonly listed: Uint8Array;
  size = 0;

  constructor(nodeCount: number) {
    this.turnOf = new Int32Array(nodeCount);
    this.attemptOf = new Int32Array(nodeCount);
    this.listed = new Uint8Array(nodeCount);
  }

  add(node: number, attempt: number, turn: number): void {
    if (this.turnOf[node] === 0) this.size++;
    this.turnOf[node] = turn;
    this.attemptOf[node] = attempt;
    if (!this.listed[node]) {
      this.listed[node] = 1;
      this.order.push(node);
    }
  }

  /** The attempt whose mark is unwritten, or null when the node has none. */
  attempt(node: number): number | null {
    return this.turnOf[node] ? (this.attemptOf[node] as number) : null;
  }

  /** Forgets the node's mark; false when it had none. */
  delete(node: number): boolean {
    if (this.turnOf[node] === 0) return false;
    this.turnOf[node] = 0;
    this.size--;
    return true;
  }

  /** The nodes started before `turn` that still have an unwritten mark, in the order they started. */
  olderThan(turn: number): number[] {
    const older: number[] = [];
    const kept: number[] = [];
    for (const node of this.order) {
      const t = this.turnOf[node] as number;
      if (t === 0) {
        this.listed[node] = 0;
        continue;
      }
      if (t < turn) older.push(node);
      kept.push(node);
    }
    this.order = kept;
    return older;
  }
}
