// OpenTelemetry traces from a real server (runners as child processes), exported over OTLP/HTTP
// to a receiver started here: one span per dispatch, a child span per node attempt.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startServer, type RunningServer } from "../src/server/server.js";
import { OtlpReceiver } from "./fixtures/otlp-receiver.js";

delete process.env["VALENCE_TOKEN"];
let server: RunningServer;
let receiver: OtlpReceiver;

before(async () => {
  receiver = await OtlpReceiver.start();
  server = await startServer({ dataDir: join(dataDir, "server"), port: 0, log: () => undefined, traces: { url: `${receiver.endpoint}/v1/traces` } });
  process.env.VALENCE_SERVER = server.info.url;
});
after(async () => {
  await server.close();
  await receiver.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const sdk = () => import("../src/index.js");
const flows = () => import("./fixtures/metrics-workflows.js");

describe("traces", () => {
  it("send one span per dispatch, with a child span per node carrying its executor, attempt, id and status", async () => {
    const { dispatch, getResult } = await sdk();
    const { fanOut } = await flows();
    const n = 3;
    const id = await dispatch(fanOut)(n);
    const result = await getResult(id, { wait: true });
    assert.equal(result.status, "COMPLETED", result.error?.message);
    const root = await receiver.dispatchSpan(id);
    assert.equal(root.parentSpanId, undefined);
    assert.equal(root.attributes["valence.status"], "COMPLETED");
    assert.equal(root.service, "valence");
    const children = receiver.spans.filter((s) => s.parentSpanId === root.spanId);
    const ran = result.nodes.filter((x) => !x.name.startsWith(":parameter:"));
    assert.equal(children.length, ran.length);
    assert.equal(children.length, 2 * n);
    for (const c of children) {
      assert.equal(c.traceId, root.traceId);
      assert.ok(c.start >= root.start && c.end <= root.end, `${c.name} lies within its dispatch`);
      const node = result.nodes[c.attributes["valence.node.id"] as number];
      assert.equal(c.name, node?.name);
      assert.equal(c.attributes["valence.executor"], c.name === "incLocal" ? "local" : "inline");
      assert.equal(c.attributes["valence.attempt"], 1);
      assert.equal(c.attributes["valence.status"], "COMPLETED");
      assert.equal(c.attributes["valence.dispatch.id"], id);
      assert.equal(c.statusCode, 0);
    }
    assert.deepEqual(children.map((c) => c.attributes["valence.node.id"]).sort(), ran.map((_, i) => result.nodes.indexOf(ran[i]!)).sort());
    assert.deepEqual(receiver.rejected, []);
  });

  it("mark failed attempts and their dispatch as errors, each attempt a span of its own", async () => {
    const { dispatch, getResult } = await sdk();
    const { failing } = await flows();
    const id = await dispatch(failing)(1);
    assert.equal((await getResult(id, { wait: true })).status, "FAILED");
    const root = await receiver.dispatchSpan(id);
    assert.equal(root.statusCode, 2);
    const attempts = receiver.spans
      .filter((s) => s.parentSpanId === root.spanId && s.name === "alwaysFails")
      .map((s) => [s.attributes["valence.attempt"], s.attributes["valence.status"], s.attributes["valence.retrying"], s.statusCode]);
    assert.deepEqual(attempts.sort(), [
      [1, "FAILED", true, 2],
      [2, "FAILED", false, 2],
    ]);
  });
});
