import { accessSync, constants, existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import { acquireFileLock } from "./file-lock.js";
import { run } from "./run.js";
import { ServiceStartError, type Component } from "./service-start-error.js";

/** Debian's interpreter: the first python3 on PATH may be another one without Dask. */
export const PYTHON = "/usr/bin/python3";

/** Serialises apt across test files: node --test runs two at once, and dpkg allows one. */
export const APT_LOCK_FILE = "/tmp/valence-apt.lock";

interface Requirement {
  packages: readonly string[];
  /** Names of what is missing; empty when the component is usable. */
  missing: () => Promise<string[]>;
}

/** sbin is not on a non-root PATH, but the daemons live there. */
const SEARCH_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** The absolute path of an executable on PATH or in the sbin/bin directories, if any. */
export function findExecutable(name: string): string | undefined {
  if (name.startsWith("/")) return isExecutable(name) ? name : undefined;
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...SEARCH_DIRS];
  for (const dir of dirs) {
    const p = join(dir, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

/** Like {@link findExecutable}, but a missing binary is a {@link ServiceStartError}. */
export function requireExecutable(component: Component, name: string): string {
  const p = findExecutable(name);
  if (p === undefined) throw new ServiceStartError(component, `${name} not found; call ensureInstalled("${component}")`);
  return p;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** initdb and postgres: on PATH, or in Debian's versioned directory (the postgresql package puts them off PATH). */
export function postgresBinary(name: "initdb" | "postgres" | "psql"): string | undefined {
  const onPath = findExecutable(name);
  if (onPath) return onPath;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  for (const v of readdirSync(root).sort((a, b) => Number(b) - Number(a))) {
    const p = join(root, v, "bin", name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

const missingExecutables = (names: readonly string[]) => async () => names.filter((n) => findExecutable(n) === undefined);

const REQUIREMENTS: Record<Component, Requirement> = {
  sshd: {
    packages: ["openssh-server", "openssh-client"],
    missing: missingExecutables(["/usr/sbin/sshd", "ssh", "ssh-keygen"]),
  },
  rsync: {
    packages: ["rsync"],
    missing: missingExecutables(["rsync"]),
  },
  // An npm package (this package's devDependency), not a Debian one: `npm install` brings it.
  s3: {
    packages: [],
    missing: async () => (s3rverEntry() === undefined ? ["s3rver (npm)"] : []),
  },
  slurm: {
    packages: ["slurm-wlm", "munge"],
    missing: missingExecutables(["slurmctld", "slurmd", "munged", "munge", "unmunge", "sbatch", "sinfo", "scontrol"]),
  },
  postgres: {
    packages: ["postgresql", "postgresql-client"],
    // Debian's postgresql puts initdb and postgres under /usr/lib/postgresql/<version>/bin, off PATH.
    missing: async () => (["initdb", "postgres", "psql"] as const).filter((n) => postgresBinary(n) === undefined),
  },
  dask: {
    packages: ["python3-dask", "python3-distributed"],
    missing: async () => {
      const r = await run(PYTHON, ["-c", "import dask, distributed"], { timeoutMs: 60_000 });
      return r.code === 0 ? [] : [`${PYTHON} -c "import distributed"`];
    },
  },
};

/** s3rver's command-line entry, resolved from this package; undefined when npm has not installed it. */
export function s3rverEntry(): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve("s3rver/package.json")), "bin", "s3rver.js");
  } catch {
    return undefined;
  }
}

/** The Debian packages that provide a component. */
export function packagesFor(component: Component): readonly string[] {
  return REQUIREMENTS[component].packages;
}

const checked = new Map<Component, Promise<void>>();
let aptUpdated: Promise<void> | undefined;

/**
 * Makes sure a component's binaries are present, installing its Debian packages when they
 * are not and we are root (CI on a fresh machine). Not root and missing: throws a
 * {@link ServiceStartError} that names the packages to install. The result is remembered
 * for the rest of the process; `apt-get update` runs at most once per process.
 *
 * @example
 *   await ensureInstalled("slurm"); // no-op when slurmctld, slurmd, munged, sbatch exist
 */
export function ensureInstalled(component: Component): Promise<void> {
  let p = checked.get(component);
  if (p === undefined) {
    p = install(component);
    checked.set(component, p);
    // A failure is not cached: the next test may run after someone installed the packages.
    p.catch(() => checked.delete(component));
  }
  return p;
}

async function install(component: Component): Promise<void> {
  const req = REQUIREMENTS[component];
  const missing = await req.missing();
  if (missing.length === 0) return;
  if (req.packages.length === 0) {
    throw new ServiceStartError(component, `not installed (missing: ${missing.join(", ")}); run npm install at the repository root`);
  }
  const command = `apt-get install -y --no-install-recommends ${req.packages.join(" ")}`;
  if (process.getuid?.() !== 0) {
    throw new ServiceStartError(
      component,
      `not installed (missing: ${missing.join(", ")}); install it as root: ${command} (or run scripts/install-services.sh)`,
    );
  }
  const lock = await acquireFileLock(APT_LOCK_FILE);
  try {
    // Another test file may have installed it while we waited for the lock.
    if ((await req.missing()).length === 0) return;
    aptUpdated ??= apt(component, ["update"]).catch((e: unknown) => {
      aptUpdated = undefined;
      throw e;
    });
    await aptUpdated;
    await apt(component, ["install", "-y", "--no-install-recommends", ...req.packages]);
    const still = await req.missing();
    if (still.length > 0) {
      throw new ServiceStartError(component, `still missing after ${command}: ${still.join(", ")}`);
    }
  } finally {
    await lock.release();
  }
}

async function apt(component: Component, args: readonly string[]): Promise<void> {
  // Wait for dpkg's own lock too, in case something outside our lock runs apt.
  const full = ["-o", "DPkg::Lock::Timeout=300", ...args];
  const r = await run("apt-get", full, {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    timeoutMs: 15 * 60_000,
  });
  if (r.code !== 0) {
    const tail = `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-20).join("\n");
    throw new ServiceStartError(component, `apt-get ${args.join(" ")} failed with code ${r.code}`, {
      logTail: `--- apt-get output ---\n${tail}`,
    });
  }
}
