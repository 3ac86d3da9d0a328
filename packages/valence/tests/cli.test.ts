// The `valence` CLI as a user runs it: the built bin, a real store in a temp dir.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const bin = join(repo, "packages/valence/bin/valence.js");
const dataDir = mkdtempSync(join(tmpdir(), "valence-cli-"));
const env = { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_CONFIG: join(dataDir, "valence.toml") };

function valence(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: opts.cwd ?? repo, env: opts.env ?? env, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("valence CLI", () => {
  let dispatchId = "";

  it("runs the TimingExecutor example: Covalent's Result text and a CPU-time log in the user's directory", () => {
    const work = mkdtempSync(join(tmpdir(), "valence-example-"));
    const r = valence(["run", join(repo, "examples/timing-executor/workflow.ts")], { cwd: work });
    assert.equal(r.code, 0, r.stderr);
    const expectedNodes = "Node Outputs\n------------\nadd(0): 7\n:parameter:3(1): 3\n:parameter:4(2): 4\nmultiply(3): 28\n:parameter:4(4): 4\n";
    assert.match(r.stdout, /^Lattice Result\n==============\nstatus: COMPLETED\nresult: 28\ninput args: \[3, 4\]\ninput kwargs: \{\}\nerror: None\n/);
    assert.ok(r.stdout.includes(expectedNodes), r.stdout);
    dispatchId = /dispatch_id: (dsp_\w+)/.exec(r.stdout)?.[1] ?? "";
    assert.match(dispatchId, /^dsp_/);
    const log = readFileSync(join(work, "cpu_timing.log"), "utf8").trim().split("\n");
    assert.equal(log.length, 2);
    assert.match(log[0] as string, new RegExp(`^Node 0 in dispatch ${dispatchId} took [\\d.e-]+s of CPU time\\.$`));
    assert.match(log[1] as string, new RegExp(`^Node 3 in dispatch ${dispatchId} took`));
  });

  it("runs the same example with `npx tsx file.ts`, and a plain .mjs workflow on the local pool with `node file.mjs`", () => {
    const work = mkdtempSync(join(tmpdir(), "valence-example-"));
    const tsx = spawnSync(join(repo, "node_modules/.bin/tsx"), [join(repo, "examples/timing-executor/workflow.ts")], { cwd: work, env, encoding: "utf8", timeout: 60_000 });
    assert.equal(tsx.status, 0, tsx.stderr);
    assert.match(tsx.stdout, /status: COMPLETED\nresult: 28\n/);
    assert.equal(readFileSync(join(work, "cpu_timing.log"), "utf8").trim().split("\n").length, 2);

    const dir = mkdtempSync(join(repo, "packages/valence/tests/.tmp-"));
    const script = join(dir, "plain.mjs");
    writeFileSync(
      script,
      `import { dispatchSync, electron, lattice } from "valence";
const square = electron((x) => x * x, { executor: "local" });
const total = electron((xs) => xs.reduce((a, b) => a + b, 0), { executor: "local" });
const wf = lattice((n) => total(Array.from({ length: n }, (_, i) => square(i))));
const r = await dispatchSync(wf)(10);
console.log(r.status, r.result, r.nodes.find((n) => n.name === "square").executor);`,
    );
    const node = spawnSync(process.execPath, [script], { cwd: dir, env, encoding: "utf8", timeout: 60_000 });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(node.status, 0, node.stderr);
    assert.equal(node.stdout.trim(), "COMPLETED 285 local");
  });

  it("runs a workflow compiled to JS with a source map, with plain node, on the local pool", () => {
    const dir = mkdtempSync(join(repo, "packages/valence/tests/.tmp-"));
    const source = join(dir, "compiled.ts");
    writeFileSync(
      source,
      `import { dispatchSync, electron, lattice } from "valence";

// Blank lines and type-only code shift the compiled lines away from the source's.
type Pair = { a: number; b: number };
const sum = electron((p: Pair) => p.a + p.b, { executor: "local" });
const wf = lattice((a: number, b: number) => sum({ a, b }));
const r = await dispatchSync(wf)(20, 22);
console.log(r.status, r.result);`,
    );
    const out = join(dir, "compiled.mjs");
    buildSync({ entryPoints: [source], outfile: out, bundle: true, external: ["valence"], format: "esm", platform: "node", sourcemap: "inline" });
    const node = spawnSync(process.execPath, [out], { cwd: dir, env, encoding: "utf8", timeout: 60_000 });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(node.status, 0, node.stderr);
    assert.equal(node.stdout.trim(), "COMPLETED 42");
  });

  it("lists dispatches and prints a result again, as text and JSON, from another process", () => {
    const list = valence(["list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^DISPATCH\s+STATUS\s+LATTICE\s+NODES/);
    assert.match(list.stdout, new RegExp(`${dispatchId}\\s+COMPLETED\\s+workflow\\s+5/5`));
    const text = valence(["result", dispatchId]);
    assert.match(text.stdout, /result: 28/);
    const json = JSON.parse(valence(["result", dispatchId, "--json"]).stdout) as { result: number; nodes: Array<{ name: string; executor: string }> };
    assert.equal(json.result, 28);
    assert.deepEqual(json.nodes.map((n) => n.name), ["add", ":parameter:3", ":parameter:4", "multiply", ":parameter:4"]);
    assert.equal(json.nodes[0]?.executor, "TimingExecutor");
  });

  it("lists executors with their origin, and the effective config with origins", () => {
    const ex = valence(["executors"]);
    assert.equal(ex.code, 0, ex.stderr);
    assert.match(ex.stdout, /^inline\s+builtin/m);
    assert.match(ex.stdout, /^local\s+builtin/m);
    const cfg = valence(["config"]);
    assert.equal(cfg.code, 0, cfg.stderr);
    assert.ok(cfg.stdout.includes(dataDir), cfg.stdout);
    assert.match(cfg.stdout, /env:VALENCE_DATA_DIR/);
  });

  it("exits quietly when the reader of its output stops early (valence run … | head)", () => {
    const r = spawnSync("bash", ["-c", `${process.execPath} ${bin} run ${join(repo, "examples/timing-executor/workflow.ts")} | head -2; exit \${PIPESTATUS[0]}`], {
      cwd: mkdtempSync(join(tmpdir(), "valence-pipe-")),
      env,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(r.stdout, "Lattice Result\n==============\n");
    assert.doesNotMatch(r.stderr, /EPIPE/);
    assert.equal(r.status, 0);
  });

  it("has --help for every command", () => {
    for (const c of ["run", "list", "result", "executors", "config"]) {
      const r = valence([c, "--help"]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`^valence ${c}`));
    }
    assert.match(valence(["--help"]).stdout, /Commands:/);
  });

  it("says what to fix: unknown command, missing file, unknown dispatch, bad config", () => {
    const unknown = valence(["frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const badFlag = valence(["list", "--foo"]);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /valence list: Unknown option '--foo'[\s\S]*valence list \[--limit N\]/);
    assert.equal(valence(["config", "extra"]).code, 2);
    const missing = valence(["run", "does-not-exist.ts"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no such file: .*does-not-exist\.ts/);
    const nodispatch = valence(["result", "dsp_nosuch"]);
    assert.equal(nodispatch.code, 1);
    assert.match(nodispatch.stderr, /DispatchNotFoundError.*no dispatch "dsp_nosuch"/);
    const badConfig = join(dataDir, "bad.toml");
    writeFileSync(badConfig, 'data_dir = "x"\nexecutor_dirs = [1,\n');
    const r = valence(["config"], { env: { ...env, VALENCE_CONFIG: badConfig } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.toml:\d+:\d+/);
  });

  it("shows nodes done / total on a terminal, and clears the line before the script prints", () => {
    const dir = mkdtempSync(join(repo, "packages/valence/tests/.tmp-"));
    const script = join(dir, "progress.mts");
    writeFileSync(
      script,
      `import { dispatchSync, electron, lattice } from "valence";
const nap = electron(async (i: number) => { await new Promise((r) => setTimeout(r, 20)); return i + 1; }, { executor: "inline" });
const chain = lattice((n: number) => { let x = nap(0); for (let i = 1; i < n; i++) x = nap(x); return x; });
const r = await dispatchSync(chain)(40);
console.log("done " + r.status + " " + String(r.result));`,
    );
    // util-linux's `script` gives the CLI a pseudo-terminal, as a user's shell would.
    const r = spawnSync("script", ["-qec", `${process.execPath} ${bin} run ${script}`, "/dev/null"], { cwd: dir, env, encoding: "utf8", timeout: 60_000 });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\[valence\] chain \d+\/41 nodes/);
    assert.match(r.stdout, /\r\x1b\[2Kdone COMPLETED 40/);
  });

  it("explains that a .ts script with top-level await needs an ES module package", () => {
    const dir = mkdtempSync(join(tmpdir(), "valence-cjs-"));
    writeFileSync(join(dir, "package.json"), '{ "name": "plain-project" }');
    writeFileSync(join(dir, "wf.ts"), "const x = await Promise.resolve(1);\nconsole.log(x);\n");
    const r = valence(["run", "wf.ts"], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ScriptLoadError .*wf\.ts was loaded as CommonJS .*Add "type": "module" to the package\.json, or rename the file to \.mts/);
  });

  it("fails a dispatch cleanly when a task kills its worker, and the script still exits", () => {
    // Inside the repo, so `import "valence"` resolves as in a user's project.
    const script = join(mkdtempSync(join(repo, "packages/valence/tests/.tmp-")), "crash.mts");
    writeFileSync(
      script,
      `import { dispatchSync, electron, lattice } from "valence";
const die = electron((): number => process.exit(7));
const ok = electron((x: number) => x * 2);
const r = await dispatchSync(lattice(() => ({ a: die(), b: ok(21) })))();
console.log(r.status, r.nodes.map((n) => n.name + "=" + n.status).join(","));
console.log(r.nodes[0]?.error?.message);`,
    );
    const r = valence(["run", script], { cwd: repo });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^FAILED die=FAILED,ok=COMPLETED,:parameter:21=COMPLETED/);
    assert.match(r.stdout, /exited with code 7/);
    assert.ok(existsSync(join(dataDir, "valence.db")));
    rmSync(dirname(script), { recursive: true, force: true });
  });
});
