// An embedded dispatch (no server) pays nothing for metrics and traces: it loads neither
// prom-client nor OpenTelemetry unless traces are configured, and then it exports its spans.
// Nor does it load what only triggers use.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { OtlpReceiver } from "./fixtures/otlp-receiver.js";

const dir = mkdtempSync(join(tmpdir(), "valence-embedded-telemetry-"));
let receiver: OtlpReceiver;
before(async () => (receiver = await OtlpReceiver.start()));
after(async () => {
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

let runs = 0;
/** Runs tests/fixtures/embedded-dispatch.ts in a fresh process; its output and every module URL it loaded. */
async function dispatchInAProcess(env: NodeJS.ProcessEnv): Promise<{ id: string; status: string; nodes: string[]; imports: string[] }> {
  const importLog = join(dir, `imports-${++runs}.log`);
  const fixtures = new URL("./fixtures/", import.meta.url);
  const base = { ...process.env };
  for (const k of ["VALENCE_SERVER", "VALENCE_TOKEN", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]) delete base[k];
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), "--import", new URL("log-imports.mjs", fixtures).href, fileURLToPath(new URL("embedded-dispatch.ts", fixtures))], {
    env: { ...base, VALENCE_DATA_DIR: join(dir, `data-${runs}`), VALENCE_CONFIG: join(dir, "no-config.toml"), VALENCE_TEST_IMPORT_LOG: importLog, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => (out += d));
  const [code] = (await once(child, "exit")) as [number];
  assert.equal(code, 0, out);
  return { ...(JSON.parse(out.trim().split("\n").at(-1) as string) as { id: string; status: string; nodes: string[] }), imports: readFileSync(importLog, "utf8").split("\n") };
}

const otel = (urls: string[]) => urls.filter((u) => u.includes("/@opentelemetry/"));
const promClient = (urls: string[]) => urls.filter((u) => u.includes("/prom-client/"));

describe("an embedded dispatch", () => {
  it("loads neither prom-client nor OpenTelemetry when traces are off (the default)", async () => {
    const r = await dispatchInAProcess({});
    assert.equal(r.status, "COMPLETED");
    assert.ok(r.imports.some((u) => u.includes("/engine/run/dispatch-run.ts")), "the import log sees the engine load");
    assert.deepEqual(otel(r.imports), []);
    assert.deepEqual(promClient(r.imports), []);
    // Nor what only a server's triggers use (croner, chokidar).
    assert.deepEqual(r.imports.filter((u) => /\/node_modules\/(croner|chokidar)\//.test(u)), []);
  });

  it("exports a span per dispatch and per node over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, still without prom-client", async () => {
    const r = await dispatchInAProcess({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
    assert.equal(r.status, "COMPLETED");
    assert.ok(otel(r.imports).length > 0, "OpenTelemetry is loaded once traces are on");
    assert.deepEqual(promClient(r.imports), []);
    // Sent at the dispatch's end; the export held the process open until it was done.
    const root = await receiver.dispatchSpan(r.id);
    const children = receiver.spans.filter((s) => s.parentSpanId === root.spanId);
    assert.deepEqual(children.map((c) => c.name).sort(), r.nodes.filter((n) => !n.startsWith(":parameter:")).sort());
    assert.ok(children.every((c) => c.attributes["valence.executor"] === "inline"));
  });
});
