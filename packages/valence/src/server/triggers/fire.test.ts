import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decode, encode } from "../../codec/index.js";
import type { SubmitBody } from "../../api/wire.js";
import { fireBody } from "./fire.js";

const node = (nodeId: number, kind: "parameter" | "sublattice", over: Record<string, unknown> = {}) => ({
  nodeId, kind, name: kind === "parameter" ? ":parameter:<the fire's argument>" : ":sublattice:ingest", electronId: kind === "sublattice" ? "wf.ts:3" : null,
  executor: null, retries: 0, timeoutMs: null, key: null, holes: null, value: null, output: kind === "parameter" ? encode("<the fire's argument>") : null, ...over,
});
const template: SubmitBody = {
  name: "ingest", latticeId: "wf.ts:3", entryFile: "/w/wf.ts", cwd: "/w", inputs: encode(["<the fire's argument>"]), outputTemplate: encode({ value: null, holes: [] }),
  bundleHash: "b".repeat(64), nodes: [node(0, "sublattice"), node(1, "parameter")], edges: [{ source: 1, target: 0, param: '{"kind":"arg","index":0}' }],
};

describe("a fire's dispatch", () => {
  it("is the template with the fire's argument in its parameter node and its inputs", () => {
    const body = fireBody(template, encode("/srv/inbox/a.csv"));
    assert.deepEqual(decode(body.inputs), ["/srv/inbox/a.csv"]);
    assert.equal(decode(body.nodes[1]?.output as string), "/srv/inbox/a.csv");
    assert.equal(body.nodes[1]?.name, ":parameter:/srv/inbox/a.csv");
    assert.deepEqual(body.nodes[0], template.nodes[0], "the lattice's node is the template's");
    assert.deepEqual({ ...body, nodes: [], inputs: "" }, { ...template, nodes: [], inputs: "" });
  });

  it("is the template as it is for a lattice that takes no argument", () => {
    const none = { ...template, inputs: encode([]), nodes: [node(0, "sublattice")], edges: [] };
    assert.equal(fireBody(none, ""), none);
  });
});
