import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ExecutorPluginError } from "../../errors.js";
import { executorClassName, isExecutorClass, readPlugin } from "./executor-class.js";

class Runs {
  run(): void {}
}
class Executes {
  static pluginName = "exec";
  execute(): void {}
}

describe("readPlugin", () => {
  test("a module without executorPluginName is no plugin", () => {
    assert.equal(readPlugin({ Runs }, "/m.mjs"), undefined);
  });

  test("class choice: the export named like the plugin, else the default export, else the only executor class", () => {
    assert.equal(readPlugin({ executorPluginName: "Runs", Runs, Executes }, "/m.mjs")?.cls, Runs);
    assert.equal(readPlugin({ executorPluginName: "x", default: Executes, Runs }, "/m.mjs")?.cls, Executes);
    assert.equal(readPlugin({ executorPluginName: "x", Runs, helper: () => 1, Plain: class {} }, "/m.mjs")?.cls, Runs);
  });

  test("CommonJS-shaped namespaces (module.exports as default) read the same", () => {
    const cjs = { default: { executorPluginName: "x", default: Runs, executorPluginDefaults: { a: 1 } }, executorPluginName: "x" };
    assert.deepEqual(readPlugin(cjs, "/m.cjs"), { name: "x", cls: Runs, defaults: { a: 1 } });
    const plain = { default: { executorPluginName: "y", Executes } };
    assert.equal(readPlugin(plain, "/m.cjs")?.cls, Executes);
  });

  test("an npm package's declared name is used when the module exports none", () => {
    assert.deepEqual(readPlugin({ default: Runs }, "/pkg/index.js", "ssh"), { name: "ssh", cls: Runs, defaults: {} });
  });

  test("problems are ExecutorPluginErrors naming the file", () => {
    assert.throws(() => readPlugin({ executorPluginName: "" }, "/m.mjs"), (e: unknown) => {
      assert.ok(e instanceof ExecutorPluginError);
      assert.equal(e.file, "/m.mjs");
      assert.match(e.message, /executorPluginName must be a non-empty string, not ""/);
      return true;
    });
    assert.throws(() => readPlugin({ executorPluginName: "x", executorPluginDefaults: "fast", Runs }, "/m.mjs"), /executorPluginDefaults must be an object/);
  });
});

describe("isExecutorClass / executorClassName", () => {
  test("structural: a constructor whose prototype has run or execute", () => {
    assert.equal(isExecutorClass(Runs), true);
    assert.equal(isExecutorClass(Executes), true);
    assert.equal(isExecutorClass(class {}), false);
    assert.equal(isExecutorClass({ run() {} }), false);
    assert.equal(isExecutorClass(() => 1), false);
  });

  test("the name toSpec() records: static pluginName, else the class name", () => {
    assert.equal(executorClassName(Executes), "exec");
    assert.equal(executorClassName(Runs), "Runs");
  });
});
