/**
 * Live state changes, fanned out to whoever follows them: a dispatch's own
 * stream, and the stream of every dispatch (the dashboard's list).
 */
import type { DispatchId } from "../ids.js";
import type { RunChange } from "../engine/run/run-types.js";

export type ChangeListener = (change: RunChange) => void;

export class EventHub {
  private readonly byDispatch = new Map<DispatchId, Set<ChangeListener>>();
  private readonly everything = new Set<ChangeListener>();
  private readonly taps = new Set<ChangeListener>();

  /**
   * Hears every change published here, not those `relay`ed from elsewhere: how a team
   * server passes its own runners' changes on to the other servers, and not theirs back.
   */
  tap(listener: ChangeListener): () => void {
    this.taps.add(listener);
    return () => this.taps.delete(listener);
  }

  /** Follows one dispatch (`id`) or all of them (`"*"`); returns the unsubscribe function. */
  subscribe(id: DispatchId | "*", listener: ChangeListener): () => void {
    if (id === "*") {
      this.everything.add(listener);
      return () => this.everything.delete(listener);
    }
    let set = this.byDispatch.get(id);
    if (!set) this.byDispatch.set(id, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (!set.size) this.byDispatch.delete(id);
    };
  }

  /** A change made here (this server's runners, its submissions). */
  publish(change: RunChange): void {
    this.relay(change);
    for (const l of this.taps) safely(l, change);
  }

  /** These dispatches are gone from the store (a Delete, a retention sweep): a change each says so. */
  publishDeleted(ids: readonly DispatchId[]): void {
    const at = Date.now();
    for (const dispatchId of ids) this.publish({ dispatchId, at, nodes: [], deleted: true });
  }

  /** A change made elsewhere (another server of the team): its followers here hear it. */
  relay(change: RunChange): void {
    // A listener that throws (a closed stream) must not stop the others.
    for (const l of this.byDispatch.get(change.dispatchId) ?? []) safely(l, change);
    for (const l of this.everything) safely(l, change);
  }
}

function safely(l: ChangeListener, change: RunChange): void {
  try {
    l(change);
  } catch {
    /* the subscriber cleans itself up when its stream closes */
  }
}
