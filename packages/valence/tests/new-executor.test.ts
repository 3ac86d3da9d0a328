// `valence new executor` as a plugin author uses it: the built bin scaffolds a
// package (both kinds) that type-checks, builds and passes its own generated
// contract tests; "installed" into a project's node_modules, the registry lists
// it and a workflow dispatched by name runs on it.
//
// Everything lives under tests/.tmp-*, so `valence`, tsx and @types/node resolve
// from the workspace's node_modules as they would from a real install.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { classNameFor } from "../src/cli/commands/new.js";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const bin = join(repo, "packages/valence/bin/valence.js");
const tsc = join(repo, "node_modules/typescript/bin/tsc");
const version = (JSON.parse(readFileSync(join(repo, "packages/valence/package.json"), "utf8")) as { version: string }).version;
const root = mkdtempSync(join(repo, "packages/valence/tests/.tmp-new-executor-"));
after(() => rmSync(root, { recursive: true, force: true }));

const USAGE = "valence new executor NAME [--remote] [--dir DIR]";
const GENERATED = [".gitignore", "README.md", "package.json", "src/", "src/index.test.ts", "src/index.ts", "tsconfig.build.json", "tsconfig.json"];
const STEP = { timeout: 60_000 };

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop, so the two kinds below proceed side by side. */
function exec(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 55_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const valence = (args: string[], cwd: string, env?: NodeJS.ProcessEnv) => exec(process.execPath, [bin, ...args], { cwd, ...(env ? { env } : {}) });

/** Every file and directory (with a trailing `/`) under `dir`, sorted. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const rel = relative(dir, join(d, e.name)).split("\\").join("/");
      if (e.isDirectory()) {
        out.push(`${rel}/`);
        walk(join(d, e.name));
      } else out.push(rel);
    }
  };
  walk(dir);
  return out.sort();
}

interface GeneratedManifest {
  name: string;
  version: string;
  type: string;
  valence: unknown;
  exports: Record<string, unknown>;
  scripts: Record<string, string>;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

interface Kind {
  readonly name: string;
  readonly className: string;
  readonly base: string;
  readonly remote: boolean;
}

const KINDS: readonly Kind[] = [
  { name: "probe", className: "ProbeExecutor", base: "AsyncBaseExecutor", remote: false },
  { name: "probe-remote", className: "ProbeRemoteExecutor", base: "RemoteExecutor", remote: true },
];

describe("valence new executor", { concurrency: true }, () => {
  for (const kind of KINDS) {
    describe(`${kind.remote ? "--remote" : "default"}: ${kind.name}`, { concurrency: false }, () => {
      const work = join(root, kind.name);
      const pkgName = `valence-executor-${kind.name}`;
      // The in-process kind goes to the default ./valence-executor-NAME; the remote one into an existing empty --dir.
      const pkgDir = kind.remote ? join(work, "plugin") : join(work, pkgName);
      const app = join(work, "app");
      const remoteWork = join(work, "remote-work");
      const env = { ...process.env, VALENCE_DATA_DIR: join(work, "data"), VALENCE_CONFIG: join(work, "valence.toml") };

      it("scaffolds the package: manifest the registry reads, sources with every placeholder filled", STEP, async () => {
        mkdirSync(kind.remote ? pkgDir : work, { recursive: true });
        const args = ["new", "executor", kind.name, ...(kind.remote ? ["--remote", "--dir", pkgDir] : [])];
        const r = await valence(args, work);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^Created ${pkgName} in ${pkgDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:`));
        assert.deepEqual(filesUnder(pkgDir), GENERATED);

        for (const file of GENERATED.filter((f) => !f.endsWith("/"))) {
          const leftover = /__[A-Z][A-Z_]*__/.exec(readFileSync(join(pkgDir, file), "utf8"));
          assert.equal(leftover, null, `${file} still holds ${leftover?.[0]}`);
        }
        const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as GeneratedManifest;
        assert.equal(pkg.name, pkgName);
        assert.equal(pkg.version, "0.1.0");
        assert.equal(pkg.type, "module");
        assert.deepEqual(pkg.valence, { executor: { name: kind.name, entry: "./dist/index.js" } });
        assert.deepEqual(pkg.exports["."], { types: "./dist/index.d.ts", default: "./dist/index.js" });
        assert.equal(pkg.scripts["test"], "node --import tsx --test src/*.test.ts");
        assert.equal(pkg.peerDependencies["valence"], `^${version}`);
        assert.deepEqual(Object.keys(pkg.devDependencies).sort(), ["@types/node", "tsx", "typescript", "valence"]);
        assert.equal(pkg.devDependencies["valence"], `^${version}`);

        const index = readFileSync(join(pkgDir, "src/index.ts"), "utf8");
        assert.ok(index.includes(`export const executorPluginName = "${kind.name}";`));
        assert.ok(index.includes("export const executorPluginDefaults = {"));
        assert.ok(index.includes(`export class ${kind.className} extends ${kind.base}`), index);
        assert.match(index, /runtimeState/);
        const test = readFileSync(join(pkgDir, "src/index.test.ts"), "utf8");
        assert.ok(test.includes(`executorContract(\n  "${kind.name}"`) || test.includes(`executorContract("${kind.name}"`), test);
        const readme = readFileSync(join(pkgDir, "README.md"), "utf8");
        for (const text of [`npm install ${pkgName}`, `executor: "${kind.name}"`, `[executors.${kind.name}]`, "npm test"]) {
          assert.ok(readme.includes(text), `README lacks ${text}`);
        }
      });

      it("type-checks (tests included) and builds dist/ without its tests", STEP, async () => {
        const check = await exec(process.execPath, [tsc, "-p", pkgDir], { cwd: pkgDir });
        assert.equal(check.code, 0, check.stdout + check.stderr);
        assert.ok(!existsSync(join(pkgDir, "dist")), "the type-check config must not emit");
        const build = await exec(process.execPath, [tsc, "-p", join(pkgDir, "tsconfig.build.json")], { cwd: pkgDir });
        assert.equal(build.code, 0, build.stdout + build.stderr);
        assert.deepEqual(
          readdirSync(join(pkgDir, "dist")).filter((f) => f.endsWith(".js")),
          ["index.js"],
        );
      });

      it("passes its generated test: the executor contract suite", STEP, async () => {
        const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { scripts: { test: string } };
        // The script as npm runs it: through a shell, which expands src/*.test.ts. Without the
        // variable by which this file's own runner would take the nested run's report for its own.
        const { NODE_TEST_CONTEXT: _, ...env } = process.env;
        const r = await exec("sh", ["-c", pkg.scripts.test], { cwd: pkgDir, env });
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, new RegExp(`ok \\d+ - executor contract: ${kind.name}\\n`));
        assert.match(r.stdout, /^# fail 0$/m);
        assert.match(r.stdout, /^# pass 14$/m);
      });

      it(`once installed, \`valence executors\` lists it as npm:${pkgName}@0.1.0`, STEP, async () => {
        mkdirSync(join(app, "node_modules"), { recursive: true });
        writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module", dependencies: { [pkgName]: "^0.1.0" } }));
        symlinkSync(pkgDir, join(app, "node_modules", pkgName), "dir");
        if (kind.remote) writeFileSync(env.VALENCE_CONFIG, `[executors.${kind.name}]\nworkdir = ${JSON.stringify(remoteWork)}\n`);

        const text = await valence(["executors"], app, env);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, new RegExp(`^${kind.name}\\s+npm:${pkgName}@0\\.1\\.0\\s`, "m"));
        const json = await valence(["executors", "--json"], app, env);
        const rows = JSON.parse(json.stdout) as Array<{ name: string; origin: string; location: string; state: string; defaults: object }>;
        const row = rows.find((r) => r.name === kind.name);
        assert.ok(row, json.stdout);
        assert.equal(row.origin, `npm:${pkgName}@0.1.0`);
        assert.equal(realpathSync(row.location), realpathSync(pkgDir));
        assert.notEqual(row.state, "broken", JSON.stringify(row));
        if (kind.remote) assert.deepEqual(row.defaults, { workdir: remoteWork });
      });

      it(`runs a workflow by name (executor: "${kind.name}") to the right result`, STEP, async () => {
        writeFileSync(
          join(app, "workflow.ts"),
          `import { dispatchSync, electron, lattice } from "valence";

const square = electron((x: number) => x * x, { executor: "${kind.name}" });
const total = electron((xs: number[]) => xs.reduce((a, b) => a + b, 0), { executor: "${kind.name}" });
const workflow = lattice((n: number) => total(Array.from({ length: n }, (_, i) => square(i))));
const r = await dispatchSync(workflow)(10);
console.log(r.status, r.result, r.nodes.filter((n) => n.name === "square" || n.name === "total").map((n) => n.executor).join(","), r.error?.message ?? "");
`,
        );
        const r = await valence(["run", "workflow.ts"], app, env);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), `COMPLETED 285 ${Array(11).fill(kind.name).join(",")}`);
        if (kind.remote) {
          // The config's workdir reached the constructor: the task packages went there.
          assert.ok(existsSync(join(remoteWork, "bundles")), `no bundles in ${remoteWork}`);
          assert.ok(readdirSync(remoteWork).some((f) => /^valence-task-.*\.mjs$/.test(f)));
        }
      });
    });
  }

  it("names the class in PascalCase + Executor, clear of the classes valence/executor exports", () => {
    assert.equal(classNameFor("my-cluster"), "MyClusterExecutor");
    assert.equal(classNameFor("k8s"), "K8sExecutor");
    assert.equal(classNameFor("gpu-executor"), "GpuExecutor");
    assert.equal(classNameFor("remote"), "RemotePluginExecutor");
    assert.equal(classNameFor("async-base"), "AsyncBasePluginExecutor");
    assert.equal(classNameFor("executor"), "PluginExecutor");
  });

  // One at a time, beside the two kinds: a dozen CLI processes at once would crowd the contract suites' timing checks.
  describe("usage errors: exit 2, say what to fix, create nothing", { concurrency: false }, () => {
    const cwd = join(root, "usage");
    mkdirSync(join(cwd, "valence-executor-taken"), { recursive: true });
    writeFileSync(join(cwd, "valence-executor-taken", "keep.txt"), "mine");
    mkdirSync(join(cwd, "full"));
    writeFileSync(join(cwd, "full", "keep.txt"), "mine");
    writeFileSync(join(cwd, "a-file"), "mine");
    const before = filesUnder(cwd);

    const cases: Array<[string, string[], RegExp]> = [
      ["no kind", ["new"], /missing what to create: valence new executor NAME/],
      ["an unknown kind", ["new", "widget", "w"], /unknown kind "widget": valence new creates an executor/],
      ["no NAME", ["new", "executor"], /missing NAME/],
      ["a NAME with capitals and underscores", ["new", "executor", "My_Exec"], /invalid NAME "My_Exec": use lowercase letters, digits and dashes, starting with a letter/],
      ["a NAME starting with a digit", ["new", "executor", "9lives"], /invalid NAME "9lives"/],
      ["a NAME with a scope or path", ["new", "executor", "@me/x"], /invalid NAME "@me\/x"/],
      ["a built-in's NAME", ["new", "executor", "local"], /"local" is a built-in executor/],
      ["extra arguments", ["new", "executor", "ok", "more"], /unexpected arguments after NAME: more/],
      ["an unknown option", ["new", "executor", "ok", "--bogus"], /Unknown option '--bogus'/],
      ["--dir without a value", ["new", "executor", "ok", "--dir"], /Option '--dir <value>' argument missing/],
      ["a --dir that is not empty", ["new", "executor", "ok", "--dir", "full"], /full exists and is not empty: pick another --dir/],
      ["a default dir that is not empty", ["new", "executor", "taken"], /valence-executor-taken exists and is not empty/],
      ["a --dir that is a file", ["new", "executor", "ok", "--dir", "a-file"], /a-file exists and is not a directory/],
    ];
    for (const [what, args, message] of cases) {
      it(`refuses ${what}`, STEP, async () => {
        const r = await valence(args, cwd);
        assert.equal(r.code, 2, r.stdout + r.stderr);
        assert.match(r.stderr, message);
        assert.ok(r.stderr.startsWith("valence new: "), r.stderr);
        assert.ok(r.stderr.includes(USAGE), r.stderr);
        assert.deepEqual(filesUnder(cwd), before);
      });
    }

    it("prints its usage for --help, after `new` or after the kind", STEP, async () => {
      for (const args of [["new", "--help"], ["new", "executor", "--help"], ["new", "executor", "x", "-h"]]) {
        const r = await valence(args, cwd);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.stdout.startsWith(USAGE), r.stdout);
      }
      const top = await valence(["--help"], cwd);
      assert.match(top.stdout, /^\s+new\s+scaffold an executor plugin package/m);
      assert.deepEqual(filesUnder(cwd), before);
    });
  });
});
