/** Holding a request until a dispatch ends (long polling), without polling. */
import type { DispatchId } from "../ids.js";
import { isTerminal } from "../status.js";
import type { Store } from "../engine/store/store.js";
import type { EventHub } from "./event-hub.js";

/** Resolves when dispatch `id` ends, after `ms`, or when the request goes away, whichever is first. */
export function waitForEnd(hub: EventHub, store: Store, id: DispatchId, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const finish = () => {
      unsubscribe();
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      resolve();
    };
    const unsubscribe = hub.subscribe(id, (change) => {
      if (change.status && isTerminal(change.status)) finish();
    });
    const timer = setTimeout(finish, ms);
    signal.addEventListener("abort", finish, { once: true });
    // It may have ended between the caller's read and the subscription.
    store.getDispatch(id).then(
      (d) => {
        if (!d || isTerminal(d.status)) finish();
      },
      finish, // the caller's next read reports what is wrong with the store
    );
  });
}
