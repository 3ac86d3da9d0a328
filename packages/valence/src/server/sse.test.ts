import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { SqliteStore } from "../engine/store/sqlite-store.js";
import { createApp } from "./app.js";
import { EventHub } from "./event-hub.js";
import { Supervisor } from "./supervisor.js";

const dir = mkdtempSync(join(tmpdir(), "valence-sse-"));
const store = new SqliteStore(dir);
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

it("cuts off a client that does not read its event stream instead of queueing for it forever", async () => {
  const hub = new EventHub();
  let subscribers = 0;
  const subscribe = hub.subscribe.bind(hub);
  hub.subscribe = (id, listener) => {
    subscribers++;
    const off = subscribe(id, listener);
    return () => {
      subscribers--;
      off();
    };
  };
  const supervisor = new Supervisor({ store, hub, log: () => undefined, env: process.env });
  const app = createApp({ store, supervisor, hub, version: "test", startedAt: Date.now() });
  const res = await app.fetch(new Request("http://x/api/v1/events"));
  assert.equal(res.status, 200);
  // Read the greeting, then never read again.
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  await reader.read();
  assert.equal(subscribers, 1);
  for (let i = 0; i < 10_050; i++) hub.publish({ dispatchId: "dsp_0000000000000000" as never, at: i, nodes: [{ node: 0, status: "RUNNING" }] });
  for (let i = 0; i < 100 && subscribers > 0; i++) await sleep(10);
  assert.equal(subscribers, 0, "the stalled stream let go of its subscription");
  await reader.cancel();
  await supervisor.stopAll();
});
