import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { ExecutorDefinitionError, ExecutorPluginError, UnknownExecutorError } from "../../errors.js";
import { BaseExecutor, Executor, type Task, type TaskFunction, type TaskOutcome } from "../../executor/index.js";
import type { DispatchId, ElectronId, NodeId } from "../../ids.js";
import { globalRegistry, registerExecutorClass } from "../../sdk/global-registry.js";
import { loadConfig } from "../config/index.js";
import { createRegistry, type ExecutorListing, type ExecutorRegistry } from "./index.js";
import { importFailure, typeScriptUnavailable } from "./import-module.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "valence-plugins-"));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** Fixture executors import the SDK by file URL: a temp dir cannot resolve "valence/executor". */
const SDK = new URL("../../executor/index.ts", import.meta.url).href;

let n = 0;
/** Writes `files` (relative path → content; objects become JSON) under a fresh directory. */
function tree(files: Record<string, string | object>): string {
  const dir = path.join(root, `t${++n}`);
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  }
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** The config a user would have: a valence.toml in `dir` (relative executor_dirs resolve against it). */
function configIn(dir: string, toml = "") {
  fs.writeFileSync(path.join(dir, "valence.toml"), toml);
  return loadConfig({ path: path.join(dir, "valence.toml"), env: { HOME: dir } });
}

const npmPackage = (name: string, executor: unknown, version = "1.2.3") => ({ name, version, valence: { executor } });

/** A structural executor: imports nothing, counts its module's imports on globalThis[counter]. */
const structuralModule = (pluginName: string, className: string, counter: string, defaults = "{}") => `
globalThis[${JSON.stringify(counter)}] = (globalThis[${JSON.stringify(counter)}] ?? 0) + 1;
export const executorPluginName = ${JSON.stringify(pluginName)};
export const executorPluginDefaults = ${defaults};
export class Helper { describe() { return "not an executor"; } }
export class ${className} {
  static pluginName = ${JSON.stringify(pluginName)};
  constructor(options = {}) { this.options = { ...options }; }
  async execute(task) { return { ok: true, value: task.fn(...task.args), stdout: "", stderr: "" }; }
  toSpec() { return { plugin: ${JSON.stringify(pluginName)}, state: { options: this.options } }; }
}
`;

/** A BaseExecutor subclass whose class name differs from its plugin name, as in DESIGN §2. */
const timingModule = `
import { BaseExecutor } from ${JSON.stringify(SDK)};
export const executorPluginName = "timing";
export const executorPluginDefaults = { logFile: "plugin.log", level: 1, flavor: "plugin" };
export class TimingExecutor extends BaseExecutor {
  constructor(options = {}) { super(options); this.logFile = options.logFile; this.calls = 0; }
  run(fn, args) { this.calls += 1; return { value: fn(...args), logFile: this.logFile, calls: this.calls }; }
  label() { return "timing:" + this.logFile; }
}
`;

function task(fn: (...a: never[]) => unknown, args: unknown[]): Task {
  return {
    meta: { dispatchId: "dsp_test000000" as DispatchId, nodeId: 0 as NodeId, resultsDir: root },
    electronId: "e" as ElectronId,
    electronName: "e",
    fn,
    args,
    kwargs: {},
    bundlePath: undefined,
    signal: new AbortController().signal,
  };
}

async function row(registry: ExecutorRegistry, name: string, origin?: string): Promise<ExecutorListing> {
  const listing = await registry.list();
  const found = listing.find((r) => r.name === name && (origin === undefined || r.origin.startsWith(origin)));
  return found ?? assert.fail(`no listing for ${name} ${origin ?? ""}: ${JSON.stringify(listing, null, 1)}`);
}

class InlineLike extends BaseExecutor {
  static override pluginName = "inline";
  run(fn: TaskFunction, args: unknown[]): unknown {
    return (fn as (...a: unknown[]) => unknown)(...args);
  }
}

describe("discovery", () => {
  test("finds builtins, npm packages (scoped, in parent dirs) and executor-dir modules, each with its origin", async () => {
    const dir = tree({
      "node_modules/@acme/valence-bar/package.json": npmPackage("@acme/valence-bar", { name: "bar", entry: "lib/main.mjs" }, "0.1.0"),
      "node_modules/@acme/valence-bar/lib/main.mjs": structuralModule("bar", "BarExecutor", "__valenceT1bar"),
      "node_modules/@acme/unrelated/package.json": { name: "@acme/unrelated", version: "1.0.0" },
      "project/node_modules/valence-executor-foo/package.json": npmPackage("valence-executor-foo", { name: "foo", entry: "./index.mjs" }),
      "project/node_modules/valence-executor-foo/index.mjs": structuralModule("foo", "FooExecutor", "__valenceT1foo"),
      "project/node_modules/left-pad/package.json": { name: "left-pad", version: "1.3.0", description: "no valence here" },
      "project/node_modules/.bin/tool": "#!/bin/sh\n",
      "project/src/app/.keep": "",
      "executors/timing.mjs": timingModule,
      "executors/helper.mjs": "export const notAPlugin = 1;\n",
      "executors/timing.test.mjs": "throw new Error('test files must not be imported');\n",
      "executors/types.d.ts": "export declare const x: number;\n",
      "executors/README.md": "# my executors\n",
    });
    const config = configIn(dir, 'executor_dirs = ["executors"]\n');
    const registry = await createRegistry({
      config,
      builtins: [{ name: "inline", cls: InlineLike }],
      cwd: path.join(dir, "project/src/app"),
    });
    assert.deepEqual((await registry.names()), ["bar", "foo", "inline", "timing"]);
    assert.deepEqual(
      (await registry.list()).map((r) => [r.name, r.origin, r.state]),
      [
        ["inline", "builtin", "ready"],
        ["timing", `dir:${path.join(dir, "executors/timing.mjs")}`, "ready"],
        ["foo", "npm:valence-executor-foo@1.2.3", "not-loaded"],
        ["bar", "npm:@acme/valence-bar@0.1.0", "not-loaded"],
      ],
    );
    assert.equal((await row(registry, "foo")).location, path.join(dir, "project/node_modules/valence-executor-foo"));
    assert.deepEqual((await registry.problems()), []);
  });

  test("listing is cheap: npm plugins are imported on first use, once", async () => {
    const dir = tree({
      "node_modules/valence-executor-lazy/package.json": npmPackage("valence-executor-lazy", { name: "lazy", entry: "index.mjs" }),
      "node_modules/valence-executor-lazy/index.mjs": structuralModule("lazy", "LazyExecutor", "__valenceT2lazy"),
    });
    const counter = () => (globalThis as Record<string, unknown>)["__valenceT2lazy"];
    const registry = await createRegistry({ config: configIn(dir), builtins: [], cwd: dir });
    assert.deepEqual((await registry.names()), ["lazy"]);
    await registry.list();
    assert.equal(counter(), undefined, "names() and list() must not import the plugin");
    const [a, b] = await Promise.all([registry.resolve("lazy"), registry.resolve("lazy")]);
    assert.equal(a, b);
    assert.equal((a as { name: string }).name, "LazyExecutor");
    assert.equal(counter(), 1);
    assert.equal((await row(registry, "lazy")).state, "ready");
  });

  test("a builtin name resolves without discovery: no executor-dir module is imported for it", async () => {
    const dir = tree({
      "executors/probe.mjs": "globalThis.__valenceT2dir = (globalThis.__valenceT2dir ?? 0) + 1;\n" + structuralModule("probe", "ProbeExecutor", "__valenceT2probe"),
    });
    const imported = () => (globalThis as Record<string, unknown>)["__valenceT2dir"];
    const registry = await createRegistry({ config: configIn(dir, 'executor_dirs = ["executors"]'), builtins: [{ name: "inline", cls: InlineLike }], cwd: dir });
    assert.equal(await registry.resolve("inline"), InlineLike);
    assert.equal(imported(), undefined, "resolving a builtin must not run discovery");
    assert.equal(((await registry.resolve("probe")) as { name: string }).name, "ProbeExecutor");
    await registry.names();
    assert.equal(imported(), 1, "discovery runs once, on the first name no builtin answers");
  });

  test("a TypeScript module in an executor dir loads", async () => {
    const dir = tree({
      "executors/typed.ts": `
import { AsyncBaseExecutor, type TaskMetadata } from ${JSON.stringify(SDK)};
export const executorPluginName: string = "typed";
export default class TypedExecutor extends AsyncBaseExecutor {
  async run(fn: (...a: unknown[]) => unknown, args: unknown[], _k: object, _m: TaskMetadata): Promise<unknown> {
    return fn(...args);
  }
}
`,
    });
    const registry = await createRegistry({ config: configIn(dir, 'executor_dirs = ["executors"]'), builtins: [], cwd: dir });
    const executor = await registry.create("typed");
    const outcome = await executor.execute(task(((x: number) => x * 2) as never, [21]));
    assert.deepEqual(outcome, { ok: true, value: 42, stdout: "", stderr: "" });
  });

  test("classes registered in the process-global registry are listed live, origin runtime", async () => {
    const dir = tree({});
    const registry = await createRegistry({ config: configIn(dir), builtins: [], cwd: dir });
    assert.equal((await registry.names()).includes("rt-probe"), false);
    class Probe extends InlineLike {}
    registerExecutorClass("rt-probe", Probe);
    try {
      assert.ok((await registry.names()).includes("rt-probe"));
      assert.equal((await row(registry, "rt-probe")).origin, "runtime");
      assert.equal(await registry.resolve("rt-probe"), Probe);
    } finally {
      globalRegistry().executorClasses.delete("rt-probe");
    }
  });

  test("when two sources give one name, the first in precedence wins and the other shows as shadowed", async () => {
    const dir = tree({
      "node_modules/valence-executor-dup/package.json": npmPackage("valence-executor-dup", { name: "dup", entry: "index.mjs" }),
      "node_modules/valence-executor-dup/index.mjs": structuralModule("dup", "NpmDup", "__valenceT5npm"),
      "node_modules/valence-executor-evil/package.json": npmPackage("valence-executor-evil", { name: "inline", entry: "index.mjs" }),
      "node_modules/valence-executor-evil/index.mjs": structuralModule("inline", "Evil", "__valenceT5evil"),
      "executors/dup.mjs": structuralModule("dup", "DirDup", "__valenceT5dir"),
    });
    const registry = await createRegistry({
      config: configIn(dir, 'executor_dirs = ["executors"]'),
      builtins: [{ name: "inline", cls: InlineLike }],
      cwd: dir,
    });
    assert.deepEqual((await registry.names()), ["dup", "inline"]);
    assert.equal(((await registry.resolve("dup")) as { name: string }).name, "DirDup");
    assert.equal(await registry.resolve("inline"), InlineLike, "an npm package cannot take over a builtin");
    const shadowed = await row(registry, "dup", "npm:");
    assert.equal(shadowed.state, "shadowed");
    assert.equal(shadowed.problem, `shadowed by dir:${path.join(dir, "executors/dup.mjs")}`);
    assert.equal((await row(registry, "inline", "npm:")).problem, "shadowed by builtin");
  });

  test("an executor dir that does not exist is a problem, not an error", async () => {
    const dir = tree({});
    const registry = await createRegistry({ config: configIn(dir, 'executor_dirs = ["missing"]'), builtins: [], cwd: dir });
    assert.deepEqual((await registry.problems()), [
      { where: path.join(dir, "missing"), message: `executor dir ${path.join(dir, "missing")} does not exist (listed in executor_dirs)` },
    ]);
  });
});

describe("broken plugins", () => {
  const brokenTree = () =>
    tree({
      "executors/good.mjs": structuralModule("good", "GoodExecutor", "__valenceT7good"),
      "executors/throws.mjs": "export const executorPluginName = 'thrower';\nthrow new Error('boom at import');\n",
      "executors/syntax.mjs": "export const executorPluginName = 'syntax';\nexport class {\n",
      "executors/no-class.mjs": "export const executorPluginName = 'noclass';\nexport const helper = () => 1;\n",
      "executors/not-a-class.mjs": "export const executorPluginName = 'notclass';\nexport const notclass = { run() {} };\n",
      "executors/two-classes.mjs":
        "export const executorPluginName = 'two';\nexport class A { run() {} }\nexport class B { execute() {} }\n",
      "executors/bad-defaults.mjs": "export const executorPluginName = 'baddefaults';\nexport const executorPluginDefaults = [1];\nexport default class { run() {} }\n",
      "executors/bad-name.mjs": "export const executorPluginName = 42;\nexport default class { run() {} }\n",
      "node_modules/valence-executor-unbuilt/package.json": npmPackage("valence-executor-unbuilt", { name: "unbuilt", entry: "./dist/index.js" }),
      "node_modules/valence-executor-baddecl/package.json": npmPackage("valence-executor-baddecl", { name: 3 }),
      "node_modules/valence-executor-crash/package.json": npmPackage("valence-executor-crash", { name: "crash", entry: "index.mjs" }),
      "node_modules/valence-executor-crash/index.mjs": "throw new Error('crash on import');\n",
      "node_modules/valence-executor-mismatch/package.json": npmPackage("valence-executor-mismatch", { name: "mismatch", entry: "index.mjs" }),
      "node_modules/valence-executor-mismatch/index.mjs": "export const executorPluginName = 'other';\nexport default class { run() {} }\n",
      "node_modules/valence-executor-badjson/package.json": '{ "valence": ',
    });

  test("each broken plugin is listed with the file and the reason; the others still work", async () => {
    const dir = brokenTree();
    const registry = await createRegistry({ config: configIn(dir, 'executor_dirs = ["executors"]'), builtins: [], cwd: dir });
    const file = (name: string) => path.join(dir, "executors", name);
    const broken = async (name: string, origin?: string) => {
      const r = await row(registry, name, origin);
      assert.equal(r.state, "broken", `${name} should be broken`);
      return r.problem ?? "";
    };
    // A module that fails to import never told its name: it is listed under its file name.
    assert.equal(await broken("throws.mjs"), `executor plugin ${file("throws.mjs")}: failed to import: boom at import (line 2)`);
    assert.equal(await broken("syntax.mjs"), `executor plugin ${file("syntax.mjs")}: failed to import: Unexpected token '{' (line 2)`);
    assert.match(await broken("noclass"), /no-class\.mjs: exports executorPluginName "noclass" but no executor class .*export a class named "noclass"/);
    assert.match(await broken("notclass"), /not-a-class\.mjs: export "notclass" is not an executor class/);
    assert.match(await broken("two"), /two-classes\.mjs: exports several executor classes \(A, B\)/);
    assert.match(await broken("baddefaults"), /bad-defaults\.mjs: executorPluginDefaults must be an object/);
    assert.match(await broken("bad-name.mjs"), /bad-name\.mjs: executorPluginName must be a non-empty string, not 42/);
    assert.match(await broken("unbuilt"), /valence-executor-unbuilt\/package\.json: entry "\.\/dist\/index\.js" is not a file \(is the package built\?\)/);
    assert.match(await broken("valence-executor-baddecl"), /package\.json: "valence\.executor" must be \{ "name"/);
    // The module is only imported on use, so these show as not-loaded until then.
    assert.equal((await row(registry, "crash")).state, "not-loaded");
    assert.deepEqual((await registry.names()), ["crash", "good", "mismatch"]);
    assert.ok(await registry.resolve("good"));

    await assert.rejects(registry.resolve("crash"), (e: unknown) => {
      assert.ok(e instanceof ExecutorPluginError);
      assert.ok(e instanceof ExecutorDefinitionError);
      assert.equal(e.file, path.join(dir, "node_modules/valence-executor-crash/index.mjs"));
      assert.match(e.message, /failed to import: crash on import/);
      return true;
    });
    await assert.rejects(registry.resolve("mismatch"), /declares executor "mismatch" but the module exports executorPluginName "other"/);
    assert.equal((await row(registry, "crash")).state, "broken");
    assert.deepEqual((await registry.names()), ["good"]);
  });

  test("resolving a broken plugin throws its ExecutorPluginError, not 'unknown'", async () => {
    const dir = brokenTree();
    const registry = await createRegistry({ config: configIn(dir, 'executor_dirs = ["executors"]'), builtins: [], cwd: dir });
    await assert.rejects(registry.create("noclass"), (e: unknown) => {
      assert.ok(e instanceof ExecutorPluginError);
      assert.equal(e.file, path.join(dir, "executors/no-class.mjs"));
      return true;
    });
    await assert.rejects(registry.resolve("unbuilt"), ExecutorPluginError);
  });

  test("an unknown name lists the names that do resolve", async () => {
    const dir = brokenTree();
    const registry = await createRegistry({
      config: configIn(dir, 'executor_dirs = ["executors"]'),
      builtins: [{ name: "inline", cls: InlineLike }],
      cwd: dir,
    });
    await assert.rejects(registry.create("sssh"), (e: unknown) => {
      assert.ok(e instanceof UnknownExecutorError);
      assert.equal(e.executorName, "sssh");
      assert.deepEqual(e.known, ["good", "inline"]);
      assert.match(e.message, /^unknown executor "sssh"\. Known executors: good, inline\./);
      return true;
    });
  });

  test("messages from the import helpers name the file", () => {
    const ts = typeScriptUnavailable("/x/timing.ts", new Error("Unknown file extension"));
    assert.equal(ts.file, "/x/timing.ts");
    assert.match(ts.message, /^executor plugin \/x\/timing\.ts: is TypeScript .*tsx.*compile it to \.js/);
    const err = new Error("oops");
    err.stack = "Error: oops\n    at file:///x/timing.mjs:7:13";
    assert.equal(importFailure("/x/timing.mjs", err).message, "executor plugin /x/timing.mjs: failed to import: oops (line 7)");
  });
});

describe("create and rebuild", () => {
  test("defaults: plugin's executorPluginDefaults < config [executors.NAME] < explicit options", async () => {
    const dir = tree({ "executors/timing.mjs": timingModule });
    const config = configIn(
      dir,
      'executor_dirs = ["executors"]\n[executors.timing]\nlogFile = "config.log"\nlevel = 2\n',
    );
    const registry = await createRegistry({ config, builtins: [], cwd: dir });
    assert.deepEqual((await row(registry, "timing")).defaults, { logFile: "config.log", level: 2, flavor: "plugin" });
    const executor = await registry.create("timing", { level: 3 });
    assert.ok(executor instanceof BaseExecutor);
    assert.deepEqual(executor.options, { logFile: "config.log", level: 3, flavor: "plugin" });
    assert.equal((executor as unknown as { logFile: string }).logFile, "config.log");
  });

  test("builtin defaults apply the same way", async () => {
    const dir = tree({});
    const registry = await createRegistry({
      config: configIn(dir, "[executors.inline]\nmaxConcurrency = 4\n"),
      builtins: [{ name: "inline", cls: InlineLike, defaults: { maxConcurrency: 1, extra: true } }],
      cwd: dir,
    });
    const executor = await registry.create("inline");
    assert.equal(executor.maxConcurrency, 4);
    assert.deepEqual(executor.options, { maxConcurrency: 4, extra: true });
  });

  test("rebuild from a stored spec: fields preserved, prototype methods work, class name resolves too", async () => {
    const dir = tree({ "executors/timing.mjs": timingModule });
    const registry = await createRegistry({ config: configIn(dir, 'executor_dirs = ["executors"]'), builtins: [], cwd: dir });
    const original = await registry.create("timing", { logFile: "/tmp/t.log" });
    await original.execute(task((() => 1) as never, []));
    const spec = original.toSpec();
    // Executor.toSpec records the class name; the registry maps it back to the "timing" plugin.
    assert.equal(spec.plugin, "TimingExecutor");
    const stored = JSON.parse(JSON.stringify(spec)) as typeof spec;
    const rebuilt = await registry.rebuild(stored);
    assert.ok(rebuilt instanceof Executor);
    assert.notEqual(rebuilt, original);
    assert.equal(Object.getPrototypeOf(rebuilt), Object.getPrototypeOf(original));
    assert.deepEqual(rebuilt.toSpec(), spec);
    assert.equal((rebuilt as unknown as { label(): string }).label(), "timing:/tmp/t.log");
    const outcome: TaskOutcome = await rebuilt.execute(task(((a: number, b: number) => a + b) as never, [3, 4]));
    assert.deepEqual(outcome, { ok: true, value: { value: 7, logFile: "/tmp/t.log", calls: 2 }, stdout: "", stderr: "" });
  });

  test("rebuild of a lazily loaded npm plugin by its class name imports it to find it", async () => {
    const dir = tree({
      "node_modules/valence-executor-ssh/package.json": npmPackage("valence-executor-ssh", { name: "ssh", entry: "index.mjs" }),
      "node_modules/valence-executor-ssh/index.mjs": timingModule.replace('"timing"', '"ssh"'),
    });
    const registry = await createRegistry({ config: configIn(dir), builtins: [], cwd: dir });
    const rebuilt = await registry.rebuild({ plugin: "TimingExecutor", state: { options: {}, logFile: "x", calls: 5 } });
    assert.equal((rebuilt as unknown as { label(): string }).label(), "timing:x");
    await assert.rejects(registry.rebuild({ plugin: "Nope", state: {} }), UnknownExecutorError);
  });

  test("rebuild of a structural executor (no SDK import) round-trips", async () => {
    const dir = tree({ "executors/plain.mjs": structuralModule("plain", "PlainExecutor", "__valenceT14") });
    const registry = await createRegistry({ config: configIn(dir, 'executor_dirs = ["executors"]'), builtins: [], cwd: dir });
    const original = await registry.create("plain", { a: 1 });
    const rebuilt = await registry.rebuild(JSON.parse(JSON.stringify(original.toSpec())));
    assert.deepEqual(rebuilt.toSpec(), { plugin: "plain", state: { options: { a: 1 } } });
    assert.deepEqual(await rebuilt.execute(task((() => "hi") as never, [])), { ok: true, value: "hi", stdout: "", stderr: "" });
  });

  test("a constructor that throws, or builds no executor, is an ExecutorDefinitionError naming the executor", async () => {
    const dir = tree({
      "executors/picky.mjs":
        "export const executorPluginName = 'picky';\n" +
        "export default class { constructor(o) { if (!o.host) throw new Error('host is required'); } execute() {} toSpec() {} }\n",
      "executors/hollow.mjs":
        "export const executorPluginName = 'hollow';\nexport default class { run() {} }\n",
    });
    const registry = await createRegistry({ config: configIn(dir, 'executor_dirs = ["executors"]'), builtins: [], cwd: dir });
    await assert.rejects(registry.create("picky"), (e: unknown) => {
      assert.ok(e instanceof ExecutorDefinitionError);
      assert.match(e.message, /^executor "picky" \(dir:.*picky\.mjs\) could not be created from options \{\}: host is required$/);
      return true;
    });
    assert.ok(await registry.create("picky", { host: "h" }));
    await assert.rejects(registry.create("hollow"), /executor "hollow" .* built an object without execute\(\) and toSpec\(\)/);
  });
});
