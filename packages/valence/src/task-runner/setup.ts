/**
 * Runs an electron's set-up around its task, in the process that runs the
 * task: npm packages (cached per host), shell commands, calls before and
 * after, file copies on the same disk and transfers by strategy. See `sdk/deps.ts` for the options.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdir, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { TaskSetupError } from "../errors.js";
import { runTransfer } from "../executor/transfer/run-transfer.js";
import type { RegisteredElectron } from "../sdk/global-registry.js";
import type { FileTransfer, TaskSetup } from "../executor/task-setup.js";

export interface SetupPlace {
  /**
   * Whether plain `files` (paths, no strategy) are copied here. True where
   * the task shares the dispatcher's disk (inline, local workers); false for
   * `valence-task`, whose remote executor moves them over its own transport.
   * Files with a strategy are moved here in either case.
   */
  readonly copyFiles: boolean;
}

type AnyFn = (...args: unknown[]) => unknown;
const wrapped = new WeakMap<RegisteredElectron, Map<boolean, AnyFn>>();

/** The function to call for `electron`: its own when it has no set-up, else one that runs the set-up around it. */
export function taskFunction(electron: RegisteredElectron, place: SetupPlace): AnyFn {
  const setup = electron.setup;
  if (!setup) return electron.fn as AnyFn;
  let byPlace = wrapped.get(electron);
  if (!byPlace) wrapped.set(electron, (byPlace = new Map()));
  let fn = byPlace.get(place.copyFiles);
  if (!fn) {
    const task = electron.fn as AnyFn;
    fn = async (...args: unknown[]) => {
      await before(setup, place);
      const value = await task(...args);
      await after(setup, place);
      return value;
    };
    byPlace.set(place.copyFiles, fn);
  }
  return fn;
}

async function before(setup: TaskSetup, place: SetupPlace): Promise<void> {
  if (setup.npm.length > 0) useNpmDir(await installNpm(setup.npm));
  for (const command of setup.bash) await runShell(command);
  for (const call of setup.before) await (call.fn as AnyFn)(...call.args);
  await moveFiles(setup.files, "before", place);
}

async function after(setup: TaskSetup, place: SetupPlace): Promise<void> {
  await moveFiles(setup.files, "after", place);
  for (const call of setup.after) await (call.fn as AnyFn)(...call.args);
}

/** Strategy transfers run here wherever "here" is; plain copies only where the task shares the dispatcher's disk. */
async function moveFiles(files: readonly FileTransfer[], order: "before" | "after", place: SetupPlace): Promise<void> {
  for (const file of files) {
    if (file.order !== order) continue;
    if (file.strategy) {
      await runTransfer({ from: file.from, to: file.to, order, strategy: file.strategy });
      continue;
    }
    if (!place.copyFiles) continue;
    try {
      await mkdir(dirname(resolve(file.to)), { recursive: true });
      await cp(file.from, file.to, { recursive: true });
    } catch (error) {
      throw new TaskSetupError(`FileTransfer ${file.from} → ${file.to} (${order} the task): ${(error as Error).message}`, { cause: error });
    }
  }
}

/** Runs `command` with `sh -c`; its output joins the task's (captured) stdout and stderr. */
function runShell(command: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn("sh", ["-c", command], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => process.stdout.write(chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      process.stderr.write(chunk.toString());
    });
    child.on("error", (error) => reject(new TaskSetupError(`DepsBash ${JSON.stringify(command)}: ${error.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) return resolvePromise();
      const tail = stderr.trim().split("\n").slice(-5).join("\n");
      reject(new TaskSetupError(`DepsBash ${JSON.stringify(command)} exited with ${signal ?? code}${tail ? `: ${tail}` : ""}`));
    });
  });
}

/** Where npm deps are cached on this host: `VALENCE_DEPS_DIR`, else `~/.cache/valence/npm`. */
export function npmCacheRoot(): string {
  return process.env["VALENCE_DEPS_DIR"] ?? join(homedir(), ".cache", "valence", "npm");
}

const installs = new Map<string, Promise<string>>();

/**
 * Installs `packages` into a directory named by their sorted specs, once per
 * host: a marker file says the install finished, and a lock directory keeps
 * two processes from installing the same set at once.
 */
export function installNpm(packages: readonly string[]): Promise<string> {
  const specs = [...new Set(packages)].sort();
  const dir = join(npmCacheRoot(), createHash("sha256").update(specs.join("\n")).digest("hex").slice(0, 16));
  let install = installs.get(dir);
  if (!install) {
    install = installInto(dir, specs);
    installs.set(dir, install);
    install.catch(() => installs.delete(dir));
  }
  return install;
}

const READY = ".valence-ready";
const LOCK_WAIT_MS = 10 * 60_000;

async function installInto(dir: string, specs: string[]): Promise<string> {
  if (existsSync(join(dir, READY))) return dir;
  await mkdir(dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  const started = Date.now();
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      if (existsSync(join(dir, READY))) return dir;
      if (Date.now() - started > LOCK_WAIT_MS) {
        throw new TaskSetupError(`DepsNpm: another install has held ${lock} for 10 minutes; remove it if no install is running`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (existsSync(join(dir, READY))) return dir;
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "package.json"), '{ "private": true }\n');
    await npmInstall(dir, specs);
    await writeFile(join(dir, READY), specs.join("\n"));
    return dir;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

function npmInstall(dir: string, specs: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", "--prefix", dir, ...specs], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("error", (error) =>
      reject(new TaskSetupError(`DepsNpm needs npm where the task runs: ${error.message}`, { cause: error })),
    );
    child.on("close", (code) => {
      if (code === 0) return resolvePromise();
      const tail = output.trim().split("\n").slice(-8).join("\n");
      reject(new TaskSetupError(`DepsNpm: npm install ${specs.join(" ")} failed (exit ${code}):\n${tail}`));
    });
  });
}

const inUse = new Set<string>();

/**
 * Makes an installed set usable by the task: its `.bin` on PATH (for the
 * commands it ships) and its `node_modules` on NODE_PATH, which `require`
 * (bundles define one) and child node processes consult.
 */
function useNpmDir(dir: string): void {
  if (inUse.has(dir)) return;
  inUse.add(dir);
  const modules = join(dir, "node_modules");
  process.env["PATH"] = [join(modules, ".bin"), process.env["PATH"]].filter(Boolean).join(delimiter);
  process.env["NODE_PATH"] = [modules, process.env["NODE_PATH"]].filter(Boolean).join(delimiter);
  // Node reads NODE_PATH once at start-up; `_initPaths` reads it again for `require`.
  const Module = createRequire(import.meta.url)("node:module") as { _initPaths?: () => void };
  Module._initPaths?.();
}
