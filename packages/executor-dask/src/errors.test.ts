// What a user sees when the bridge cannot start or reach the cluster: no Dask needed.
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ExecutorDefinitionError, executorFromSpec } from "valence/executor";
import {
  DaskExecutor,
  DaskPythonError,
  DaskSchedulerUnreachableError,
  executorPluginDefaults,
  executorPluginName,
} from "./index.js";
import { liveBridges } from "./bridge-pool.js";

const LIMIT = { timeout: 30_000 };
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "valence-dask-errors-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("dask executor errors", () => {
  it("a closed port is DaskSchedulerUnreachableError within connectTimeout, naming the address and the fix", LIMIT, async () => {
    const address = `tcp://127.0.0.1:${await closedPort()}`;
    const executor = new DaskExecutor({ schedulerAddress: address, connectTimeout: 3 });
    const t0 = Date.now();
    await assert.rejects(executor.validateCredentials(), (error: Error) => {
      assert.ok(error instanceof DaskSchedulerUnreachableError, error.stack);
      assert.equal(error.code, "DASK_SCHEDULER_UNREACHABLE");
      assert.equal(error.schedulerAddress, address);
      assert.match(error.message, /cannot reach the Dask scheduler at tcp:\/\/127\.0\.0\.1:\d+ within 3 s/);
      assert.match(error.message, /check schedulerAddress/);
      return true;
    });
    // Python's start and import come on top of the 3 s; a hang would take the test's limit.
    assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
    await executor.teardown();
  });

  it("a missing python is DaskPythonError naming the option", LIMIT, async () => {
    const executor = new DaskExecutor({ schedulerAddress: "tcp://127.0.0.1:8786", python: "/nonexistent/python3" });
    await assert.rejects(executor.validateCredentials(), (error: Error) => {
      assert.ok(error instanceof DaskPythonError, error.stack);
      assert.equal(error.python, "/nonexistent/python3");
      assert.match(error.message, /cannot start Python "\/nonexistent\/python3" \(ENOENT\): set the executor's python option/);
      return true;
    });
    await executor.teardown();
  });

  it("a python without distributed is DaskPythonError saying what to install", LIMIT, async () => {
    // Debian's python3 with -S: no site-packages, so no distributed.
    const python = join(dir, "bare-python3");
    await writeFile(python, `#!/bin/sh\nexec /usr/bin/python3 -S "$@"\n`);
    await chmod(python, 0o755);
    const executor = new DaskExecutor({ schedulerAddress: "tcp://127.0.0.1:8786", python });
    await assert.rejects(executor.validateCredentials(), (error: Error) => {
      assert.ok(error instanceof DaskPythonError, error.stack);
      assert.match(error.message, /cannot import distributed \(ModuleNotFoundError: No module named 'distributed'\)/);
      assert.match(error.message, /python3-distributed/);
      return true;
    });
    await executor.teardown();
  });

  it("a failed start leaves no bridge behind", LIMIT, () => {
    assert.deepEqual(liveBridges(), []);
  });

  it("bad options are an ExecutorDefinitionError from validate, not from the constructor", () => {
    const missing = new DaskExecutor({} as never);
    assert.throws(() => missing.validate(), (error: Error) => {
      assert.ok(error instanceof ExecutorDefinitionError);
      assert.match(error.message, /schedulerAddress is required .*\[executors\.dask\]/);
      return true;
    });
    const negative = new DaskExecutor({ schedulerAddress: "tcp://127.0.0.1:8786", connectTimeout: -1 });
    assert.throws(() => negative.validate(), /connectTimeout must be a number of seconds above 0, got -1/);
    const node = new DaskExecutor({ schedulerAddress: "tcp://127.0.0.1:8786", nodePath: "" });
    assert.throws(() => node.validate(), /nodePath must be a non-empty string/);
  });

  it("an unknown isolation is an ExecutorDefinitionError naming the allowed values", () => {
    const executor = new DaskExecutor({ schedulerAddress: "tcp://127.0.0.1:8786", isolation: "thread" as never });
    assert.throws(() => executor.validate(), (error: Error) => {
      assert.ok(error instanceof ExecutorDefinitionError);
      assert.match(error.message, /^dask executor: isolation must be "runner" \(persistent node runners, the default\) or "process" \(a node process per task\), got "thread"$/);
      return true;
    });
    for (const isolation of ["runner", "process"] as const) {
      new DaskExecutor({ schedulerAddress: "tcp://127.0.0.1:8786", isolation }).validate();
    }
  });

  it("is the plugin named dask and survives a trip through its spec", () => {
    assert.equal(executorPluginName, "dask");
    assert.equal(DaskExecutor.pluginName, "dask");
    assert.deepEqual(executorPluginDefaults, { nodePath: "node", connectTimeout: 10, isolation: "runner" });
    const executor = new DaskExecutor({ schedulerAddress: "tcp://10.0.0.1:8786", workerWorkdir: "/scratch/valence", maxConcurrency: 8 });
    const spec = executor.toSpec();
    assert.equal(spec.plugin, "dask");
    const again = executorFromSpec(DaskExecutor, JSON.parse(JSON.stringify(spec))) as DaskExecutor;
    assert.ok(again instanceof DaskExecutor);
    assert.deepEqual(again.options, executor.options);
    assert.equal(again.maxConcurrency, 8);
  });
});

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
