import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DispatchId } from "../ids.js";
import type { RunChange } from "../engine/run/run-types.js";
import { EventHub } from "./event-hub.js";

const change = (id: string, status?: RunChange["status"]): RunChange => ({ dispatchId: id as DispatchId, at: 1, nodes: [], ...(status ? { status } : {}) });

describe("EventHub", () => {
  it("a change reaches the dispatch's followers and those of everything; a tap hears local changes only", () => {
    const hub = new EventHub();
    const one: string[] = [];
    const all: string[] = [];
    const tapped: string[] = [];
    const stopOne = hub.subscribe("dsp_a" as DispatchId, (c) => one.push(`${c.dispatchId}:${c.status ?? "-"}`));
    hub.subscribe("*", (c) => all.push(c.dispatchId));
    const untap = hub.tap((c) => tapped.push(c.dispatchId));
    hub.publish(change("dsp_a", "RUNNING"));
    hub.publish(change("dsp_b"));
    // From another server of the team: its followers here hear it, and it is not sent back.
    hub.relay(change("dsp_a", "COMPLETED"));
    assert.deepEqual(one, ["dsp_a:RUNNING", "dsp_a:COMPLETED"]);
    assert.deepEqual(all, ["dsp_a", "dsp_b", "dsp_a"]);
    assert.deepEqual(tapped, ["dsp_a", "dsp_b"]);
    stopOne();
    untap();
    hub.publish(change("dsp_a"));
    assert.deepEqual([one.length, tapped.length, all.length], [2, 2, 4]);
  });

  it("a listener that throws does not stop the others", () => {
    const hub = new EventHub();
    const heard: string[] = [];
    hub.subscribe("*", () => {
      throw new Error("a closed stream");
    });
    hub.subscribe("*", (c) => heard.push(c.dispatchId));
    hub.tap(() => {
      throw new Error("a broken tap");
    });
    hub.publish(change("dsp_x"));
    assert.deepEqual(heard, ["dsp_x"]);
  });
});
