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
import { DEP, type BashDep, type CallDep, type Dep, type FileTransfer as FileTransferSpec, type NpmDep, type TaskSetup } from "../executor/task-setup.js";

// The shapes live with the task they travel in (executor/task-setup.ts); the checked constructors here.
export type { BashDep, CallDep, Dep, NpmDep, TaskSetup };
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

export function FileTransfer(from: string, to: string, options: { order?: "before" | "after" } = {}): FileTransfer {
  if (typeof from !== "string" || from === "" || typeof to !== "string" || to === "") {
    throw new OptionsError(`FileTransfer(from, to): both must be non-empty paths`);
  }
  const order = options.order ?? "before";
  if (order !== "before" && order !== "after") {
    throw new OptionsError(`FileTransfer: order must be "before" or "after", got ${JSON.stringify(order)}`);
  }
  return { [DEP]: "file", from: stripFileScheme(from), to: stripFileScheme(to), order };
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
