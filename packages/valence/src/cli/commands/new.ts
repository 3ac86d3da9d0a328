import { readFileSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { relative, resolve } from "node:path";
import { BUILTIN_EXECUTORS } from "../../engine/engine.js";
import { parseOrUsage, UsageError, type Command } from "../command.js";
import { renderTemplate, writeScaffold } from "../scaffold.js";

const usage = `valence new executor NAME [--remote] [--dir DIR]

Creates an executor plugin package, as Covalent's executor template does:
package.json declaring executor NAME to Valence's plugin registry, src/index.ts
with the executor class to fill in, src/index.test.ts running Valence's executor
contract suite, tsconfig files and a README.

  NAME        the executor's name, as in executor: "NAME" and [executors.NAME]:
              lowercase letters, digits and dashes, starting with a letter.
              The package is valence-executor-NAME.
  --remote    a RemoteExecutor, for tasks that run elsewhere (a host, a cluster):
              generated to run each task as a local node process, every step
              commented for your transport. Without it, an AsyncBaseExecutor
              whose run() runs tasks in the dispatching process.
  --dir DIR   where to create it (default ./valence-executor-NAME); it must not
              exist, or be empty.`;

const NAME = /^[a-z][a-z0-9-]*$/;
/** npm's limit on a package name, less "valence-executor-". */
const MAX_NAME = 214 - "valence-executor-".length;
/** Exports of `valence/executor` a template imports: a class of the same name would clash. */
const BASE_CLASSES = new Set(["Executor", "BaseExecutor", "AsyncBaseExecutor", "RemoteExecutor"]);

export const newCommand: Command = {
  name: "new",
  summary: "scaffold an executor plugin package (valence new executor NAME)",
  usage,
  async run(argv) {
    const { values, positionals } = parseOrUsage(
      { args: argv, allowPositionals: true, options: { remote: { type: "boolean" }, dir: { type: "string" } } },
      usage,
    );
    const [kind, name, ...extra] = positionals;
    if (kind === undefined) throw new UsageError("missing what to create: valence new executor NAME", usage);
    if (kind !== "executor") throw new UsageError(`unknown kind "${kind}": valence new creates an executor (valence new executor NAME)`, usage);
    if (name === undefined) throw new UsageError("missing NAME, the executor's name (e.g. valence new executor my-cluster)", usage);
    if (extra.length) throw new UsageError(`unexpected arguments after NAME: ${extra.join(" ")}`, usage);
    checkName(name);

    const packageName = `valence-executor-${name}`;
    const dir = resolve(values.dir ?? packageName);
    await checkTarget(dir);
    const remote = values.remote === true;
    const className = classNameFor(name);
    const files = await renderTemplate(remote ? ["executor", "executor-remote"] : ["executor"], {
      NAME: name,
      CLASS_NAME: className,
      PACKAGE_NAME: packageName,
      VALENCE_VERSION: valenceVersion(),
    });
    await writeScaffold(dir, files);

    const where = relative(process.cwd(), dir) || ".";
    const cd = where.startsWith("..") ? dir : where;
    console.log(
      [
        `Created ${packageName} in ${dir}:`,
        ...files.map((f) => `  ${f.path}`),
        "",
        `Executor "${name}": class ${className} in src/index.ts, on ${remote ? "RemoteExecutor (tasks run elsewhere; as generated, local node processes)" : "AsyncBaseExecutor (tasks run in the dispatching process)"}.`,
        "",
        "Next:",
        `  cd ${quote(cd)}`,
        "  npm install",
        "  npm test          # Valence's executor contract suite",
        `  npm run build     # then install the package beside your workflows and use executor: "${name}"`,
      ].join("\n"),
    );
    return 0;
  },
};

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new UsageError(
      `invalid NAME "${name}": use lowercase letters, digits and dashes, starting with a letter (it names the npm package valence-executor-NAME)`,
      usage,
    );
  }
  if (name.length > MAX_NAME) throw new UsageError(`NAME is ${name.length} characters long: npm allows package names up to 214, so at most ${MAX_NAME}`, usage);
  if (BUILTIN_EXECUTORS.some((b) => b.name === name)) {
    throw new UsageError(`"${name}" is a built-in executor, and built-ins take precedence over plugins: pick another NAME`, usage);
  }
}

async function checkTarget(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) return;
  if (!info.isDirectory()) throw new UsageError(`${dir} exists and is not a directory: pick another --dir`, usage);
  if ((await readdir(dir)).length > 0) throw new UsageError(`${dir} exists and is not empty: pick another --dir, or remove it`, usage);
}

/** `my-cluster` → `MyClusterExecutor`; `gpu-executor` → `GpuExecutor`, not `GpuExecutorExecutor`. */
export function classNameFor(name: string): string {
  const pascal = name
    .split("-")
    .filter(Boolean)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join("");
  const cls = pascal.endsWith("Executor") ? pascal : `${pascal}Executor`;
  return BASE_CLASSES.has(cls) ? `${pascal.replace(/Executor$/, "")}PluginExecutor` : cls;
}

/** The version of the valence package running this command: what the new package depends on. */
function valenceVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function quote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}
