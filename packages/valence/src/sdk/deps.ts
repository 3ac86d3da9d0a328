/**
 * What a task needs around it, run where the task runs (Covalent's `deps_*`,
 * `call_before`, `call_after` and `files`):
 *
 * ```ts
 * const fit = electron(train, {
 *   deps: [DepsNpm(["cowsay@1"]), DepsBash(["mkdir -p /tmp/scratch"])],
 *   callBefore: [DepsCall(warmCache, ["models"])],
 *   callAfter: [DepsCall(report)],
 *   files: [FileTransfer("data/in.csv", "/tmp/scratch/in.csv"), FileTransfer("/tmp/scratch/out.csv", "out.csv", { order: "after" })],
 * });
 * ```
 *
 * Order: npm packages, shell commands, calls (deps, then callBefore), files
 * in, the task, files out, callAfter. Functions given to `DepsCall` travel
 * the way electrons do: by reference into the code bundle, so they must be
 * defined in (or imported by) the dispatched module.
 */
import { OptionsError } from "./options.js";
import { inferStrategy, isRemoteAddress } from "../executor/transfer/infer.js";
import { maskCredentials } from "../executor/transfer/mask.js";
import { isTransferStrategy, type TransferStrategy } from "../executor/transfer/strategy.js";
import { DEP, type BashDep, type CallDep, type Dep, type FileTransfer as FileTransferSpec, type NpmDep, type TaskSetup } from "../executor/task-setup.js";

// The shapes live with the task they travel in (executor/task-setup.ts); the checked constructors here.
export type { BashDep, CallDep, Dep, NpmDep, TaskSetup, TransferStrategy };
export type FileTransfer = FileTransferSpec;

const NPM_SPEC = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(@[\w.^~<>=| *-]+)?$/i;

export function DepsNpm(packages: readonly string[]): NpmDep {
  if (!Array.isArray(packages) || packages.length === 0) {
    throw new OptionsError(`DepsNpm(packages): give a non-empty array of npm package specs such as ["lodash@4"]`);
  }
  for (const p of packages) {
    if (typeof p !== "string" || !NPM_SPEC.test(p)) {
      throw new OptionsError(`DepsNpm: ${JSON.stringify(p)} is not an npm package spec (name or name@version, e.g. "lodash@4")`);
    }
  }
  return { [DEP]: "npm", packages: [...packages] };
}

export function DepsBash(commands: string | readonly string[]): BashDep {
  const list = typeof commands === "string" ? [commands] : commands;
  if (!Array.isArray(list) || list.length === 0 || list.some((c) => typeof c !== "string" || c.trim() === "")) {
    throw new OptionsError(`DepsBash(commands): give a shell command or a non-empty array of them`);
  }
  return { [DEP]: "bash", commands: [...list] };
}

export function DepsCall<A extends unknown[]>(fn: (...args: A) => unknown, args?: A): CallDep {
  if (typeof fn !== "function") throw new OptionsError(`DepsCall(fn, args): fn must be a function, got ${typeof fn}`);
  if (args !== undefined && !Array.isArray(args)) throw new OptionsError(`DepsCall(fn, args): args must be an array`);
  return { [DEP]: "call", fn: fn as (...a: never[]) => unknown, args: args ?? [] };
}

export interface FileTransferOptions {
  /** "before" (default): fetch `from` into `to` before the task; "after": send `from` to `to` once it ends. */
  readonly order?: "before" | "after";
  /**
   * How the file moves (see TransferStrategy; built-ins in `valence/transfer`). Inferred when left
   * out: `http(s)://` URLs use HttpTransfer, `user@host:path` RsyncTransfer; plain paths are copied.
   */
  readonly strategy?: TransferStrategy;
}

/**
 * A file the task needs in (order "before") or leaves behind (order "after").
 *
 * @example
 *   FileTransfer("https://example.org/in.csv", "/tmp/scratch/in.csv")                 // HTTP download, inferred
 *   FileTransfer("/tmp/scratch/out.csv", "s3://results/out.csv", { strategy: s3 })     // an upload: order "after" is inferred
 */
export function FileTransfer(from: string, to: string, options: FileTransferOptions = {}): FileTransfer {
  if (typeof from !== "string" || from === "" || typeof to !== "string" || to === "") {
    throw new OptionsError(`FileTransfer(from, to): both must be non-empty paths or URLs`);
  }
  if (options.order !== undefined && options.order !== "before" && options.order !== "after") {
    throw new OptionsError(`FileTransfer: order must be "before" or "after", got ${JSON.stringify(options.order)}`);
  }
  const fromRemote = isRemoteAddress(from);
  const toRemote = isRemoteAddress(to);
  const named = (s: string) => JSON.stringify(maskCredentials(s));
  if (fromRemote && toRemote) {
    throw new OptionsError(`FileTransfer(${named(from)}, ${named(to)}): one side must be a path where the task runs`);
  }
  // A remote `to` means an upload, which can only happen once the task has made the file.
  const order = options.order ?? (toRemote ? "after" : "before");
  if (order === "before" && toRemote) {
    throw new OptionsError(`FileTransfer: ${named(to)} is remote, so the file goes there after the task: use { order: "after" } or leave order out`);
  }
  if (order === "after" && fromRemote) {
    throw new OptionsError(`FileTransfer: ${named(from)} is remote, so it is fetched before the task: use { order: "before" } or leave order out`);
  }
  const remote = order === "before" ? from : to;
  const strategy = options.strategy === undefined ? inferStrategy(remote) : checkStrategy(options.strategy);
  if (strategy === undefined) {
    if (/^s3:\/\//i.test(remote)) {
      throw new OptionsError(`FileTransfer: ${named(remote)} needs { strategy: new S3Transfer({ … }) } from "valence/transfer" (endpoint, region and credentials are yours to say)`);
    }
    if (fromRemote || toRemote) throw new OptionsError(`FileTransfer: no built-in strategy reaches ${named(remote)}; pass { strategy }`);
    return { [DEP]: "file", from: stripFileScheme(from), to: stripFileScheme(to), order };
  }
  try {
    strategy.validate?.(remote);
  } catch (error) {
    throw new OptionsError(`FileTransfer (${strategy.name}): ${maskCredentials((error as Error).message ?? String(error))}`);
  }
  const local = order === "before" ? to : from;
  return order === "before"
    ? { [DEP]: "file", from, to: stripFileScheme(local), order, strategy }
    : { [DEP]: "file", from: stripFileScheme(local), to, order, strategy };
}

function checkStrategy(strategy: unknown): TransferStrategy {
  if (!isTransferStrategy(strategy)) {
    throw new OptionsError(`FileTransfer: strategy must be a TransferStrategy (an object with a name, download() and upload()), such as new HttpTransfer() from "valence/transfer"; got ${describeValue(strategy)}`);
  }
  return strategy;
}

function describeValue(x: unknown): string {
  if (x === null) return "null";
  if (typeof x === "string") return `the string ${JSON.stringify(x)} (strategies are objects, not names)`;
  return typeof x === "object" ? `an object without ${["name", "download", "upload"].filter((k) => !(k in (x as object))).join(", ") || "a usable name, download and upload"}` : typeof x;
}

/** Covalent users write `file:///path`; a path is what is meant. */
function stripFileScheme(p: string): string {
  return p.startsWith("file://") ? new URL(p).pathname : p;
}

function kindOf(x: unknown): string | undefined {
  return typeof x === "object" && x !== null ? ((x as { [DEP]?: string })[DEP] ?? undefined) : undefined;
}

function list(where: string, key: string, value: unknown): unknown[] {
  if (value === undefined) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.map((item, i) => {
    if (kindOf(item) === undefined) {
      throw new OptionsError(`${where}: "${key}"[${i}] must be made with DepsNpm, DepsBash, DepsCall or FileTransfer`);
    }
    return item;
  });
}

/** Checks and groups the `deps`, `callBefore`, `callAfter` and `files` options; undefined when there are none. */
export function taskSetupOf(
  where: string,
  options: { deps?: unknown; callBefore?: unknown; callAfter?: unknown; files?: unknown },
): TaskSetup | undefined {
  const deps = list(where, "deps", options.deps);
  const before = list(where, "callBefore", options.callBefore);
  const after = list(where, "callAfter", options.callAfter);
  const files = list(where, "files", options.files);
  if (deps.length + before.length + after.length + files.length === 0) return undefined;
  const only = (key: string, items: unknown[], kinds: string[]) =>
    items.forEach((item, i) => {
      if (!kinds.includes(kindOf(item) as string)) {
        throw new OptionsError(`${where}: "${key}"[${i}] must be made with ${kinds.map(factoryName).join(" or ")}`);
      }
    });
  only("deps", deps, ["npm", "bash", "call"]);
  only("callBefore", before, ["call"]);
  only("callAfter", after, ["call"]);
  only("files", files, ["file"]);
  const of = <K extends string>(kind: K) => deps.filter((d) => kindOf(d) === kind);
  return {
    npm: (of("npm") as NpmDep[]).flatMap((d) => d.packages),
    bash: (of("bash") as BashDep[]).flatMap((d) => d.commands),
    before: [...(of("call") as CallDep[]), ...(before as CallDep[])],
    after: after as CallDep[],
    files: files as FileTransfer[],
  };
}

function factoryName(kind: string): string {
  return { npm: "DepsNpm", bash: "DepsBash", call: "DepsCall", file: "FileTransfer" }[kind] ?? kind;
}
