import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDask, type Dask } from "./index.js";

describe("startDask", () => {
  let dir: string;
  let dask: Dask;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "valence-dask-"));
    dask = await startDask(dir);
  });

  after(async () => {
    await dask?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs a task submitted by a Python client", async () => {
    assert.match(dask.schedulerAddress, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    const script = [
      "import sys",
      "from distributed import Client",
      "with Client(sys.argv[1], timeout=10) as c:",
      "    print(c.submit(lambda: 1 + 1).result(timeout=10))",
    ].join("\n");
    const out = await new Promise<string>((resolve, reject) => {
      execFile(dask.python, ["-c", script, dask.schedulerAddress], { timeout: 30_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(stderr || error.message));
        else resolve(stdout);
      });
    });
    assert.equal(out.trim(), "2");
  });
});
