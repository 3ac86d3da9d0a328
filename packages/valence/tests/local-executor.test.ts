// Scenario test of the default executor: a user's script, run as its own process with tsx,
// dispatches a workflow whose electrons run on the local worker pool.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, "../../..");
const SDK = join(HERE, "../src/index.ts");
const dirs: string[] = [];

after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Runs `source` as a user's script (`node --import tsx script.mts`) and returns its exit code and output. */
async function runScript(source: string): Promise<{ code: number | null; stdout: string; stderr: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "valence-local-scenario-"));
  dirs.push(dir);
  const script = join(dir, "workflow.mts");
  await writeFile(script, source.replaceAll("$SDK", JSON.stringify(SDK)));
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: REPO,
    env: { ...process.env, VALENCE_DATA_DIR: join(dir, "data"), VALENCE_CONFIG: join(dir, "no-config.toml") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  // A pool that kept the script alive would show up here as a kill.
  const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  clearTimeout(killer);
  return { code, stdout, stderr, dir };
}

describe("local executor, end to end", () => {
  it("runs a dispatched workflow's electrons in worker processes, and the script then exits", async () => {
    const run = await runScript(`
import { electron, lattice, dispatch, getResult } from $SDK;

export const add = electron((x: number, y: number) => {
  console.log("adding in", process.pid);
  return x + y;
}, { executor: "local" });
export const multiply = electron((x: number, y: number) => x * y, { executor: "local" });
export const workflow = lattice((x: number, y: number) => multiply(y, add(x, y)));

const id = await dispatch(workflow)(3, 4);
const result = await getResult(id, { wait: true });
const node = result.nodes.find((n) => n.name === "add");
console.log(JSON.stringify({ status: result.status, result: result.result, error: result.error?.message, addStdout: node?.stdout, pid: process.pid }));
`);
    assert.equal(run.code, 0, `stderr: ${run.stderr}`);
    const last = JSON.parse(run.stdout.trim().split("\n").at(-1) as string) as {
      status: string;
      result: number;
      error?: string;
      addStdout: string;
      pid: number;
    };
    assert.equal(last.status, "COMPLETED", last.error);
    assert.equal(last.result, 28);
    const workerPid = Number(/^adding in (\d+)$/m.exec(last.addStdout)?.[1]);
    assert.ok(workerPid > 0, `node stdout: ${last.addStdout}`);
    assert.notEqual(workerPid, last.pid);
  });
});
