/**
 * Turning a submitted graph into a stored dispatch. Everything a runner would
 * trip over later (a dangling edge, a cycle that would never finish, a value
 * that does not decode, a missing bundle) is refused here, with a 400 that
 * names it, before anything is stored.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { decode } from "../codec/index.js";
import { newDispatchId, type DispatchId } from "../ids.js";
import type { SubmitBody } from "../api/wire.js";
import type { DispatchRecord, NodeRecord } from "../engine/store/records.js";
import type { Store } from "../engine/store/store.js";
import { BadRequestError, BundleMissingError } from "./http-errors.js";
import { readBlob } from "./blobs.js";

export const bundlePathOf = (dataDir: string, hash: string) => join(dataDir, "bundles", `${hash}.mjs`);

/** `id`: a trigger's fire names its dispatch's id before storing it (server/triggers/fire.ts). */
export async function storeSubmission(store: Store, submitted: SubmitBody, parentId: DispatchId | null = null, id: DispatchId = newDispatchId()): Promise<DispatchId> {
  const { body, bundlePath } = checkSubmission(store.dataDir, submitted);
  const n = body.nodes.length;
  const resultsDir = join(store.dataDir, "results", id);
  mkdirSync(resultsDir, { recursive: true });
  // Field by field, not by spreading the parsed JSON: one object shape for every node (10k-node graphs).
  const nodes: NodeRecord[] = body.nodes.map((x) => ({
    nodeId: x.nodeId,
    kind: x.kind,
    name: x.name,
    electronId: x.electronId,
    status: x.kind === "parameter" ? "COMPLETED" : "NEW_OBJECT",
    executor: x.executor,
    retries: x.retries,
    retryPolicy: x.retryPolicy ?? null,
    cachePolicy: x.cachePolicy ?? null,
    cachedFrom: null,
    timeoutMs: x.timeoutMs,
    key: x.key,
    holes: x.holes,
    value: x.value,
    output: x.output,
    outputFile: null,
    stdout: null,
    stderr: null,
    error: null,
    attempts: 0,
    retryAt: null,
    startedAt: null,
    endedAt: null,
    lane: null,
    bundlePath: null,
  }));
  const record: DispatchRecord = {
      id,
      parentId,
      parentNode: null,
      name: body.name,
      latticeId: body.latticeId,
      status: "NEW_OBJECT",
      inputs: body.inputs,
      output: null,
      outputTemplate: body.outputTemplate,
      error: null,
      createdAt: Date.now(),
      startedAt: null,
      endedAt: null,
      resultsDir,
      bundlePath,
      entryFile: body.entryFile,
      cwd: body.cwd,
      ownerPid: null,
      ownerHost: null,
      ownerLock: null,
      nodeCount: n,
      nodesDone: nodes.filter((x) => x.status === "COMPLETED").length,
  };
  const sources = body.sources;
  await store.write((w) => {
    w.insertDispatch(record, nodes, body.edges);
    if (sources) w.insertSources(id, sources);
  });
  return id;
}

/**
 * The submission checked, with its uploaded values read back in, and the path of its bundle:
 * everything a runner would trip over later is refused here (a trigger's template is checked
 * this way when it is registered, not at its first fire).
 */
export function checkSubmission(dataDir: string, submitted: SubmitBody): { body: SubmitBody; bundlePath: string | null } {
  const body = withBlobs(dataDir, submitted);
  const n = body.nodes.length;
  body.nodes.forEach((node, i) => {
    if (node.nodeId !== i) throw new BadRequestError(`nodes[${i}].nodeId: must be ${i} (nodes are numbered 0 to ${n - 1} in order)`);
    if ((node.kind === "electron" || node.kind === "sublattice") && !node.electronId) {
      throw new BadRequestError(`nodes[${i}].electronId: a ${node.kind} node needs the id of its ${node.kind === "electron" ? "electron" : "lattice"}`);
    }
  });
  body.edges.forEach((e, i) => {
    if (e.source >= n || e.target >= n) throw new BadRequestError(`edges[${i}]: node ${Math.max(e.source, e.target)} does not exist (the graph has ${n} nodes)`);
    checkJson(`edges[${i}].param`, e.param);
  });
  checkAcyclic(n, body.edges);
  checkDecodes("inputs", body.inputs);
  checkDecodes("outputTemplate", body.outputTemplate);
  body.nodes.forEach((node, i) => {
    if (node.output !== null) checkDecodes(`nodes[${i}].output`, node.output);
    if (node.value !== null) checkDecodes(`nodes[${i}].value`, node.value);
    for (const field of ["executor", "key", "holes"] as const) if (node[field] !== null) checkJson(`nodes[${i}].${field}`, node[field] as string);
  });
  const needsCode = body.nodes.some((x) => x.kind === "electron" || x.kind === "sublattice");
  let bundlePath: string | null = null;
  if (body.bundleHash) {
    bundlePath = bundlePathOf(dataDir, body.bundleHash);
    if (!existsSync(bundlePath)) throw new BundleMissingError(`bundleHash: no bundle ${body.bundleHash} on the server; upload it first (PUT /api/v1/bundles/${body.bundleHash})`);
  } else if (needsCode) {
    throw new BadRequestError("bundleHash: the graph has electrons, so it needs the code bundle they are defined in");
  }
  return { body, bundlePath };
}

/** The submission with its uploaded values read back in (they are checked and stored like the rest). */
function withBlobs(dataDir: string, body: SubmitBody): SubmitBody {
  const inputs = body.inputsBlob ? readBlob(dataDir, body.inputsBlob, "inputsBlob") : body.inputs;
  if (!inputs) throw new BadRequestError("inputs: must be the encoded arguments, or name an uploaded value in inputsBlob");
  const nodes = body.nodes.map((node, i) => {
    if (!node.outputBlob) return node;
    if (node.output !== null) throw new BadRequestError(`nodes[${i}]: give output or outputBlob, not both`);
    const { outputBlob, ...rest } = node;
    return { ...rest, output: readBlob(dataDir, outputBlob, `nodes[${i}].outputBlob`) };
  });
  return { ...body, inputs, nodes };
}

function checkDecodes(field: string, value: string): void {
  try {
    decode(value);
  } catch (error) {
    throw new BadRequestError(`${field}: not a value in Valence's encoding (${(error as Error).message})`);
  }
}

function checkJson(field: string, value: string): void {
  try {
    JSON.parse(value);
  } catch {
    throw new BadRequestError(`${field}: must be JSON text`);
  }
}

/** A cycle would leave its nodes waiting on each other forever. */
function checkAcyclic(n: number, edges: SubmitBody["edges"]): void {
  const indegree = new Int32Array(n);
  const children: number[][] = Array.from({ length: n }, () => []);
  for (const e of edges) {
    indegree[e.target]!++;
    (children[e.source] as number[]).push(e.target);
  }
  const ready: number[] = [];
  for (let i = 0; i < n; i++) if (indegree[i] === 0) ready.push(i);
  let seen = 0;
  while (ready.length) {
    const x = ready.pop() as number;
    seen++;
    for (const c of children[x] as number[]) if (--indegree[c]! === 0) ready.push(c);
  }
  if (seen < n) {
    const stuck = [...indegree.keys()].filter((i) => indegree[i]! > 0).slice(0, 5);
    throw new BadRequestError(`edges: the graph has a cycle (through nodes ${stuck.join(", ")}…); a dispatch must be acyclic`);
  }
}
