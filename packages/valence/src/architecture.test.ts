// The layers of docs/architecture.md as tests: dependency-cruiser, with the rules in
// .dependency-cruiser.cjs, over every import of src (type-only and dynamic ones included),
// and over a tree of deliberately wrong imports that each rule must catch.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { stripVTControlCharacters } from "node:util";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const src = dirname(fileURLToPath(import.meta.url));
const pkg = dirname(src);
const config = join(pkg, ".dependency-cruiser.cjs");
// The package exports only its API (src/main/index.mjs); its CLI sits two folders up from that.
const depcruise = join(dirname(fileURLToPath(import.meta.resolve("dependency-cruiser"))), "..", "..", "bin", "dependency-cruise.mjs");

const executorRules = join(pkg, ".dependency-cruiser-executors.cjs");

/** Runs dependency-cruiser on `dir`'s src with `rules` (the package's own by default); its exit code and report. */
function cruise(dir: string, rules = config): { code: number | null; report: string } {
  // CI may force colour (FORCE_COLOR); the report is matched as plain text.
  const env = { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" };
  const r = spawnSync(process.execPath, [depcruise, "src", "--config", rules, "--output-type", "err"], { cwd: dir, encoding: "utf8", env });
  return { code: r.status, report: stripVTControlCharacters(`${r.stdout}${r.stderr}`) };
}

/** Writes `files` (path → text) under `dir`. */
function writeTree(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

const temp: string[] = [];
after(() => {
  for (const d of temp) rmSync(d, { recursive: true, force: true });
});

describe("architecture", () => {
  it("the source has no import cycle and no arrow pointing up a layer (dependency-cruiser)", { timeout: 60_000 }, () => {
    const { code, report } = cruise(pkg);
    assert.equal(code, 0, `dependency-cruiser found violations (see docs/architecture.md for the layers):\n${report}`);
    assert.match(report, /no dependency violations found \(\d+ modules/);
  });

  it("the rules catch each kind of wrong import, named by file and rule", { timeout: 60_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), "valence-arch-"));
    temp.push(dir);
    const files: Record<string, string> = {
      "tsconfig.json": JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true } }),
      "package.json": JSON.stringify({ type: "module" }),
      // Upward, a value import: the SDK reaching into the engine.
      "src/sdk/up.ts": 'import { low } from "../engine/low.js";\nexport const up = low + 1;\n',
      "src/engine/low.ts": "export const low = 1;\nexport interface Row { id: number }\n",
      // Upward, a type-only import: still an arrow.
      "src/codec/typed.ts": 'import type { Row } from "../engine/low.js";\nexport const rows: Row[] = [];\n',
      // A cycle of type-only imports.
      "src/engine/a.ts": 'import type { B } from "./b.js";\nexport interface A { b?: B }\n',
      "src/engine/b.ts": 'import type { A } from "./a.js";\nexport interface B { a?: A }\n',
      // Upward through a literal dynamic import.
      "src/executor/lazy.ts": 'export const load = () => import("../server/s.js");\n',
      "src/server/s.ts": "export const s = 1;\n",
      // The entry may load client/dispatcher lazily, but nothing of the client statically.
      "src/index.ts": 'import { other } from "./client/other.js";\nexport const open = () => import("./client/dispatcher.js");\nexport { other };\n',
      "src/client/dispatcher.ts": "export const currentDispatcher = () => 1;\n",
      "src/client/other.ts": "export const other = 2;\n",
      // Code reaching into test support.
      "src/engine/uses-fixture.ts": 'import { fixture } from "./test-support/fixture.js";\nexport const f = fixture;\n',
      "src/engine/test-support/fixture.ts": "export const fixture = 1;\n",
      // SQL outside the store's driver.
      "src/server/raw-sql.ts": 'import Database from "better-sqlite3";\nexport const db = new Database(":memory:");\n',
      // A test may reach across layers: it drives what it tests.
      "src/sdk/up.test.ts": 'import { low } from "../engine/low.js";\nexport const t = low;\n',
      // Downward: allowed, must not be reported.
      "src/engine/down.ts": 'import { up } from "../sdk/up.js";\nexport const down = up;\n',
    };
    writeTree(dir, files);
    const { code, report } = cruise(dir);
    assert.notEqual(code, 0, report);
    const expected = [
      /error layer-sdk: src\/sdk\/up\.ts → src\/engine\/low\.ts/,
      /error layer-codec: src\/codec\/typed\.ts → src\/engine\/low\.ts/,
      /error no-circular: src\/engine\/(a|b)\.ts →\s+src\/engine\/(a|b)\.ts →\s+src\/engine\/(a|b)\.ts/,
      /error layer-executor: src\/executor\/lazy\.ts → src\/server\/s\.ts/,
      /error entry-loads-client-lazily: src\/index\.ts → src\/client\/other\.ts/,
      /error layer-entry: src\/index\.ts → src\/client\/other\.ts/,
      /error sql-only-in-the-store-driver: src\/server\/raw-sql\.ts → better-sqlite3/,
      /error not-to-tests: src\/engine\/uses-fixture\.ts → src\/engine\/test-support\/fixture\.ts/,
    ];
    for (const re of expected) assert.match(report, re);
    assert.doesNotMatch(report, /down\.ts/, "engine → sdk points down: allowed");
    assert.doesNotMatch(report, /up\.test\.ts/, "a test may import across layers");
    assert.doesNotMatch(report, /src\/index\.ts → src\/client\/dispatcher\.ts/, "the entry's lazy door to the client is allowed");
  });

  it("the executor packages see valence only through valence/executor", { timeout: 60_000 }, () => {
    for (const name of ["executor-ssh", "executor-slurm", "executor-dask"]) {
      const { code, report } = cruise(join(pkg, "..", name), executorRules);
      assert.equal(code, 0, `${name}: ${report}`);
    }
    // A package that reaches into the engine is caught; its test may use the public SDK.
    const dir = mkdtempSync(join(tmpdir(), "valence-arch-executor-"));
    temp.push(dir);
    mkdirSync(join(dir, "node_modules"), { recursive: true });
    symlinkSync(pkg, join(dir, "node_modules", "valence"));
    const files: Record<string, string> = {
      "tsconfig.json": JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true } }),
      "package.json": JSON.stringify({ type: "module" }),
      "src/good.ts": 'import { BaseExecutor } from "valence/executor";\nexport const base = BaseExecutor;\n',
      "src/bad.ts": 'import { Engine } from "valence/engine";\nexport const engine = Engine;\n',
      "src/good.test.ts": 'import { dispatch } from "valence";\nexport const d = dispatch;\n',
    };
    writeTree(dir, files);
    const { code, report } = cruise(dir, executorRules);
    assert.notEqual(code, 0, report);
    assert.match(report, /error executors-see-only-valence-executor: src\/bad\.ts → \S*valence\/dist\/engine\/index\.js/);
    assert.doesNotMatch(report, /good/);
  });

  it("no module of ours is imported through a computed URL (which would hide the arrow from the check)", () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) {
          const text = readFileSync(p, "utf8");
          // Computed imports load the user's files (bundles, plugins, scripts); none may be built from import.meta.url.
          if (/import\(\s*new URL\(|import\([^)]*import\.meta\.url/.test(text)) offenders.push(relative(src, p));
        }
      }
    };
    walk(src);
    assert.deepEqual(offenders, []);
  });
});
