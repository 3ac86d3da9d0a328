// The TriggerService on a real SQLite store, a real bundle file and a real directory: what it
// refuses at registration (and that a refusal stores nothing), and a watch's fire stored as a
// dispatch of the lattice with the file's path.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { decode, encode } from "../../codec/index.js";
import { TriggerSpecError } from "../../errors.js";
import type { DispatchId } from "../../ids.js";
import type { SubmitBody, TriggerBody } from "../../api/wire.js";
import { SqliteStore } from "../../engine/store/sqlite-store.js";
import { BadRequestError, BundleMissingError } from "../http-errors.js";
import { TriggerService } from "./trigger-service.js";

const dir = mkdtempSync(join(tmpdir(), "valence-trigger-service-"));
const store = new SqliteStore(join(dir, "data"));
const hash = "c".repeat(64);
mkdirSync(join(dir, "data", "bundles"), { recursive: true });
writeFileSync(join(dir, "data", "bundles", `${hash}.mjs`), "export {};\n");
const started: DispatchId[] = [];
let startedNow: (() => void) | undefined;
const service = new TriggerService({
  store,
  bundles: { here: async () => true, share: async () => undefined },
  started: async (id) => {
    started.push(id);
    startedNow?.();
  },
  log: () => undefined,
});
after(async () => {
  await service.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const ARG = encode("<the fire's argument>");
const template: SubmitBody = {
  name: "ingest", latticeId: "wf.ts:3", entryFile: join(dir, "wf.ts"), cwd: dir, inputs: encode(["<the fire's argument>"]),
  outputTemplate: encode({ value: null, holes: [{ path: [], nodeId: 0 }] }), bundleHash: hash,
  nodes: [
    { nodeId: 0, kind: "sublattice", name: ":sublattice:ingest", electronId: "wf.ts:3", executor: null, retries: 0, timeoutMs: null, key: null, holes: null, value: null, output: null },
    { nodeId: 1, kind: "parameter", name: ":parameter:x", electronId: null, executor: null, retries: 0, timeoutMs: null, key: null, holes: null, value: null, output: ARG },
  ],
  edges: [{ source: 1, target: 0, param: '{"kind":"arg","index":0}' }],
};
const body = (spec: TriggerBody["spec"], over: Partial<TriggerBody> = {}): TriggerBody => ({ spec, latticeName: "ingest", latticeId: "wf.ts:3", withArg: true, template, ...over });

async function refused(b: TriggerBody, cls: new (...a: never[]) => Error, message: RegExp): Promise<void> {
  await assert.rejects(service.add(b), (e: Error) => {
    assert.ok(e instanceof cls, `${cls.name}, not ${e.name}: ${e.message}`);
    assert.match(e.message, message);
    return true;
  });
  assert.deepEqual(await store.triggers.list(), [], "a refused trigger was stored");
}

describe("the trigger service", () => {
  it("refuses, storing nothing, an invalid cron expression, a missing directory, an interval that is not a duration", async () => {
    await refused(body({ cron: "*/61 * * * *" }), TriggerSpecError, /cron: "\*\/61 \* \* \* \*" is refused by croner: /);
    await refused(body({ watch: join(dir, "absent") }), TriggerSpecError, /watch: the directory .*absent does not exist on the server's machine/);
    await refused(body({ every: "fortnightly" }), TriggerSpecError, /every: "fortnightly" is not a duration/);
  });

  it("refuses a template that is not the lattice as a sublattice of its argument, and one whose bundle it lacks", async () => {
    await refused(body({ every: "1m" }, { latticeId: "other.ts:1" }), BadRequestError, /template: must be lattice other\.ts:1 as one sublattice node, fed by one parameter node/);
    await refused(body({ every: "1m" }, { withArg: false }), BadRequestError, /template: must be lattice wf\.ts:3 as one sublattice node \(/);
    await refused(body({ every: "1m" }, { template: { ...template, bundleHash: "d".repeat(64) } }), BundleMissingError, /no bundle d{64} on the server; upload it first/);
  });

  it("stores a watch's fire as a dispatch of the lattice with the file's path, and removes the trigger, keeping the dispatch", async () => {
    const inbox = join(dir, "inbox");
    mkdirSync(inbox);
    const t = await service.add(body({ watch: inbox }));
    assert.equal(t.kind, "watch");
    assert.equal(t.spec, inbox);
    const fired = new Promise<void>((resolve) => (startedNow = resolve));
    writeFileSync(join(inbox, "in.csv"), "a,b\n");
    await fired;
    const [id] = started;
    const d = await store.getDispatch(id as DispatchId);
    assert.ok(d, "the fire's dispatch is stored before it is started");
    assert.deepEqual(decode(d.inputs), [join(inbox, "in.csv")]);
    assert.equal(d.bundlePath, join(dir, "data", "bundles", `${hash}.mjs`));
    const nodes = await store.getNodes(d.id);
    assert.deepEqual(nodes.map((n) => [n.kind, n.status]), [["sublattice", "NEW_OBJECT"], ["parameter", "COMPLETED"]]);
    assert.equal(decode(nodes[1]?.output as string), join(inbox, "in.csv"));
    const [fire] = await store.triggers.fires(t.id, 5);
    assert.equal(fire?.dispatchId, d.id);
    assert.equal(fire?.stored, true);
    assert.equal((await store.triggers.get(t.id))?.lastFireAt, fire?.at);
    await service.remove(t.id);
    assert.deepEqual(await store.triggers.list(), []);
    assert.ok(await store.getDispatch(d.id), "removing the trigger removed its dispatch");
  });
});
