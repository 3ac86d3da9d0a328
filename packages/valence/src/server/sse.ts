/**
 * Live events as server-sent events. A dispatch's stream opens with a
 * snapshot of every node's status, then sends each committed change, and
 * ends after the dispatch's own final status: a client that connects late
 * or reconnects misses nothing.
 */
import type { Context } from "hono";
import { streamSSE, type SSEStreamingApi } from "hono/streaming";
import type { DispatchId } from "../ids.js";
import type { RunChange } from "../engine/run/run-types.js";
import type { DispatchRecord } from "../engine/store/records.js";
import type { Store } from "../engine/store/store.js";
import { isTerminal } from "../status.js";
import type { EventHub } from "./event-hub.js";

const KEEPALIVE_MS = 15_000;
/**
 * Changes queued for one client that does not read them, before it is cut
 * off: a stalled reader must not grow the server's memory without bound. It
 * reconnects and starts from a fresh snapshot.
 */
const MAX_QUEUED = 10_000;

export function followDispatch(c: Context, hub: EventHub, store: Store, d: DispatchRecord): Response {
  return streamSSE(c, (stream) =>
    relay(stream, hub, d.id, async () => {
      // Read after subscribing (relay does that first), so nothing falls between the two.
      const now = (await store.getDispatch(d.id)) ?? d;
      const nodes = (await store.getNodes(d.id)).map((n) => ({ node: n.nodeId, name: n.name, status: n.status }));
      await stream.writeSSE({ event: "snapshot", data: JSON.stringify({ dispatchId: d.id, status: now.status, nodes }) });
      return isTerminal(now.status);
    }),
  );
}

/** Every change of every dispatch, for views of many (the dashboard's list). */
export function followEverything(c: Context, hub: EventHub): Response {
  return streamSSE(c, (stream) =>
    relay(stream, hub, "*", async () => {
      await stream.writeSSE({ event: "hello", data: "{}" });
      return false;
    }),
  );
}

/** Subscribes, runs `opening` (true: already over), then forwards changes until the end or the client leaves. */
async function relay(stream: SSEStreamingApi, hub: EventHub, id: DispatchId | "*", opening: () => Promise<boolean>): Promise<void> {
  const queue: RunChange[] = [];
  let wake: (() => void) | undefined;
  let overflowed = false;
  const unsubscribe = hub.subscribe(id, (change) => {
    if (queue.length >= MAX_QUEUED) {
      overflowed = true;
      unsubscribe();
      stream.abort();
    } else queue.push(change);
    wake?.();
  });
  stream.onAbort(() => wake?.());
  try {
    let ended = await opening();
    while (!ended && !stream.aborted && !overflowed) {
      if (!queue.length) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => resolve(), KEEPALIVE_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        if (!queue.length && !stream.aborted) await stream.write(": keepalive\n\n");
        continue;
      }
      const change = queue.shift() as RunChange;
      await stream.writeSSE({ event: "change", data: JSON.stringify(change) });
      if (id !== "*" && change.dispatchId === id && change.status && isTerminal(change.status)) ended = true;
    }
    if (ended && !stream.aborted) await stream.writeSSE({ event: "end", data: JSON.stringify({ dispatchId: id }) });
  } finally {
    unsubscribe();
  }
}
