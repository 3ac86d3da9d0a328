import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeEdges, decodeNodes, encodeEdges, encodeNodes, type SubmittedNode } from "./graph-codec.js";

const electron = (nodeId: number): SubmittedNode => ({
  nodeId, kind: "electron", name: "inc", electronId: "wf.ts:3", status: "NEW_OBJECT", executor: '{"plugin":"inline","state":{}}', retries: 0, retryPolicy: null,
  timeoutMs: null, key: null, holes: null, value: null, output: null, bundlePath: null, cachePolicy: null,
});

describe("graph codec", () => {
  it("round-trips every field, nulls, zeros and repeated strings", () => {
    const nodes: SubmittedNode[] = [
      electron(0),
      { nodeId: 1, kind: "parameter", name: ":parameter:0", electronId: null, status: "COMPLETED", executor: null, retries: 0, retryPolicy: null, timeoutMs: null,
        key: null, holes: null, value: null, output: "0", bundlePath: null, cachePolicy: null },
      { ...electron(2), retries: 3, timeoutMs: 0.5, executor: '"local"' },
      { ...electron(3), kind: "attribute", name: "inc.x", electronId: null, executor: null, key: '"x"' },
      { ...electron(4), kind: "collection", name: ":collection:list", electronId: null, executor: null, holes: "[[0],[1]]", value: "[null,null]" },
      { ...electron(5), name: "" },
      { ...electron(6), bundlePath: "/data/bundles/abc.mjs" },
      { ...electron(7), cachePolicy: '{"code":"ab","ttl":null}' },
    ];
    assert.deepEqual(decodeNodes(encodeNodes(nodes)), nodes);
  });

  it("keeps node ids that are not 0, 1, 2, …", () => {
    const nodes = [electron(4), electron(2)];
    assert.deepEqual(decodeNodes(encodeNodes(nodes)).map((n) => n.nodeId), [4, 2]);
  });

  it("round-trips edges in order", () => {
    const edges = [
      { source: 1, target: 0, param: '{"kind":"arg","index":0}' },
      { source: 3, target: 2, param: '{"kind":"arg","index":0}' },
      { source: 0, target: 2, param: '{"kind":"kwarg","name":"y"}' },
    ];
    assert.deepEqual(decodeEdges(encodeEdges(edges)), edges);
    assert.deepEqual(decodeEdges(encodeEdges([])), []);
  });

  it("says the stored graph is damaged rather than throwing a bare SyntaxError", () => {
    assert.throws(() => decodeNodes("{not json"), { name: "StoreError", message: /stored nodes of a dispatch are damaged/ });
  });
});
