import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, beforeEach, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { BundleError } from "./bundle-error.js";
import { bundleEntry, bundlerStats, clearBundleCache } from "./bundler.js";

const roots: string[] = [];
/** The SDK's entry beside this test: src/index.ts under tsx, dist/index.js when compiled. */
const SDK_ENTRY = new URL(import.meta.url.endsWith(".ts") ? "../../index.ts" : "../../index.js", import.meta.url).pathname;
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

/** A fresh project dir with the given files, and a bundles dir inside it. */
async function project(files: Record<string, string>): Promise<{ root: string; bundles: string }> {
  const root = await mkdtemp(join(tmpdir(), "valence-bundler-"));
  roots.push(root);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(root, name, ".."), { recursive: true });
    await writeFile(join(root, name), text);
  }
  return { root, bundles: join(root, "bundles") };
}

/** Moves a file's mtime away from "now", so a rewrite within the same millisecond still changes it. */
async function age(file: string, secondsAgo: number): Promise<void> {
  const t = new Date(Date.now() - secondsAgo * 1000);
  await utimes(file, t, t);
}

const SIMPLE = {
  "main.ts": `import { double } from "./lib.js";\nexport const answer: number = double(21);\n`,
  "lib.ts": `export function double(x: number): number { return x * 2; }\n`,
};

describe("bundleEntry", () => {
  beforeEach(() => clearBundleCache());

  test("writes one self-contained ES module named by the sha256 of its bytes", async () => {
    const { root, bundles } = await project(SIMPLE);
    const result = await bundleEntry(join(root, "main.ts"), bundles);
    assert.equal(result.path, join(bundles, `${result.hash}.mjs`));
    const bytes = await readFile(result.path);
    assert.equal(createHash("sha256").update(bytes).digest("hex"), result.hash);
    assert.match(bytes.toString(), /sourceMappingURL=data:application\/json/);
    const mod = (await import(pathToFileURL(result.path).href)) as { answer: number };
    assert.equal(mod.answer, 42);
  });

  test("a workflow importing the SDK's entry gets the SDK but not the engine: the door to the dispatcher is a stub", async () => {
    const { root, bundles } = await project({
      "flow.ts": `import { electron, lattice } from ${JSON.stringify(SDK_ENTRY)};\nexport const inc = electron((x: number) => x + 1);\nexport const flow = lattice((x: number) => inc(x));\n`,
    });
    const text = await readFile((await bundleEntry(join(root, "flow.ts"), bundles)).path, "utf8");
    assert.match(text, /registerElectron|valence\.global-registry/, "the SDK is in");
    assert.doesNotMatch(text, /better-sqlite3|class SqliteStore|class Engine\b|class ServerDispatcher/, "the engine is not");
    assert.match(text, /a task bundle carries the SDK but not the engine/);
  });

  test("answers a repeated call from its cache while no input changed", async () => {
    const { root, bundles } = await project(SIMPLE);
    const first = await bundleEntry(join(root, "main.ts"), bundles);
    const before = bundlerStats();
    const second = await bundleEntry(join(root, "main.ts"), bundles);
    assert.deepEqual(second, first);
    assert.equal(bundlerStats().builds, before.builds);
    assert.equal(bundlerStats().cacheHits, before.cacheHits + 1);
  });

  test("builds again when an imported file changes", async () => {
    const { root, bundles } = await project(SIMPLE);
    await age(join(root, "lib.ts"), 60);
    const first = await bundleEntry(join(root, "main.ts"), bundles);
    await writeFile(join(root, "lib.ts"), `export function double(x: number): number { return x * 3; }\n`);
    const builds = bundlerStats().builds;
    const second = await bundleEntry(join(root, "main.ts"), bundles);
    assert.equal(bundlerStats().builds, builds + 1);
    assert.notEqual(second.hash, first.hash);
    const mod = (await import(pathToFileURL(second.path).href)) as { answer: number };
    assert.equal(mod.answer, 63);
  });

  test("writes the file again if it was deleted since it was cached", async () => {
    const { root, bundles } = await project(SIMPLE);
    const first = await bundleEntry(join(root, "main.ts"), bundles);
    await unlink(first.path);
    const second = await bundleEntry(join(root, "main.ts"), bundles);
    assert.equal(second.path, first.path);
    await stat(second.path);
  });

  test("does not rewrite a bundle that is already on disk", async () => {
    const { root, bundles } = await project(SIMPLE);
    const first = await bundleEntry(join(root, "main.ts"), bundles);
    await age(first.path, 3600);
    const { mtimeMs } = await stat(first.path);
    clearBundleCache();
    const second = await bundleEntry(join(root, "main.ts"), bundles);
    assert.equal(second.path, first.path);
    assert.equal((await stat(second.path)).mtimeMs, mtimeMs);
  });

  test("concurrent calls share one build and leave no temp files", async () => {
    const { root, bundles } = await project(SIMPLE);
    const builds = bundlerStats().builds;
    const results = await Promise.all([1, 2, 3].map(() => bundleEntry(join(root, "main.ts"), bundles)));
    assert.equal(bundlerStats().builds, builds + 1);
    assert.ok(results.every((r) => r.path === results[0]?.path));
    assert.deepEqual(await readdir(bundles), [`${results[0]?.hash}.mjs`]);
  });

  test("bundled CommonJS dependencies can require node built-ins", async () => {
    const { root, bundles } = await project({
      "main.ts": `import dep from "cjs-dep";\nexport const sep: string = dep.sep;\n`,
      "node_modules/cjs-dep/package.json": JSON.stringify({ name: "cjs-dep", main: "index.js" }),
      "node_modules/cjs-dep/index.js": `const path = require("node:path");\nmodule.exports = { sep: path.sep };\n`,
    });
    const result = await bundleEntry(join(root, "main.ts"), bundles);
    const mod = (await import(pathToFileURL(result.path).href)) as { sep: string };
    assert.equal(mod.sep, "/");
  });

  test("a syntax error is a BundleError naming the file, the line and esbuild's message", async () => {
    const { root, bundles } = await project({
      "main.ts": `import { f } from "./broken.js";\nexport const x = f();\n`,
      "broken.ts": `export function f() {\n  return 1 +;\n}\n`,
    });
    const error = await bundleEntry(join(root, "main.ts"), bundles).then(
      () => assert.fail("expected a BundleError"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof BundleError);
    assert.equal(error.code, "BUNDLE_ERROR");
    assert.match(error.message, /broken\.ts:2:\d+: Unexpected ";"/);
    assert.equal(error.problems[0]?.line, 2);
  });

  test("an unresolvable import is a BundleError", async () => {
    const { root, bundles } = await project({ "main.ts": `import { g } from "./missing.js";\nexport const y = g;\n` });
    await assert.rejects(bundleEntry(join(root, "main.ts"), bundles), (e: unknown) => {
      assert.ok(e instanceof BundleError);
      assert.match(e.message, /main\.ts:1:\d+: Could not resolve "\.\/missing\.js"/);
      return true;
    });
  });

  test("stack traces from the bundle point at the original source when source maps are on", async () => {
    const { root, bundles } = await project({
      "main.ts": `import { boom } from "./thrower.js";\nexport { boom };\n`,
      "thrower.ts": `// a comment\n\nexport function boom(): never {\n  throw new Error("kaboom");\n}\n`,
    });
    const result = await bundleEntry(join(root, "main.ts"), bundles);
    const script = `import(${JSON.stringify(pathToFileURL(result.path).href)}).then((m) => { try { m.boom(); } catch (e) { console.log(e.stack); } });`;
    const run = spawnSync(process.execPath, ["--enable-source-maps", "--input-type=module", "-e", script], { encoding: "utf8" });
    assert.match(run.stdout, /thrower\.ts:4:\d+/);
  });
});
