/**
 * A dispatch runner's observations, on their way to the server: gathered and
 * sent as one IPC message per event-loop turn rather than one per node (a wide
 * dispatch ends 10k nodes in a turn).
 */
import type { Observation, RunObserver } from "../observe/observation.js";

export class ObservationBatch implements RunObserver {
  private pending: Observation[] = [];
  private scheduled = false;

  constructor(private readonly send: (observations: readonly Observation[]) => void) {}

  observe(o: Observation): void {
    this.pending.push(o);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /**
   * Sends what is gathered now. Called before each change is sent too, so the
   * server has a node's figures by the time it hears the node (or its dispatch) ended.
   */
  flush(): void {
    this.scheduled = false;
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    this.send(batch);
  }
}
