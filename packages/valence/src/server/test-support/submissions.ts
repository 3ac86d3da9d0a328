// Submission bodies for the API tests: the smallest graphs the server accepts.
import { tmpdir } from "node:os";
import type { SubmitBody } from "../../api/wire.js";
import { encode } from "../../codec/index.js";

export function paramNode(nodeId: number, overrides: Record<string, unknown> = {}) {
  return {
    nodeId, kind: "parameter", name: `p${nodeId}`, electronId: null, executor: null, retries: 0, retryPolicy: null, timeoutMs: null,
    key: null, holes: null, value: null, output: encode(nodeId + 1, "p"), ...overrides,
  };
}

/** The smallest graph the server accepts: one parameter, no code. */
export function validSubmit(overrides: Record<string, unknown> = {}): SubmitBody & Record<string, unknown> {
  return {
    name: "tiny",
    latticeId: null,
    entryFile: null,
    // Outside the repo: the runner must not depend on where the client ran.
    cwd: tmpdir(),
    inputs: encode([], "args"),
    outputTemplate: encode({ value: 1, holes: [] }, "t"),
    bundleHash: null,
    nodes: [paramNode(0)],
    edges: [],
    ...overrides,
  } as SubmitBody & Record<string, unknown>;
}
