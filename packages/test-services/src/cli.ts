// `npm run services:up` / `services:down`: sshd, Slurm and Dask left running in a fixed
// directory for working on integration tests by hand, without paying for their start in
// every run. Usage: node --import tsx src/cli.ts up|down|status [dir]
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { isAlive, stopPid } from "./processes.js";
import { startDask, type Dask } from "./dask.js";
import { startSlurm, type Slurm } from "./slurm.js";
import { startSshd, type Sshd } from "./sshd.js";

type Data<T> = Omit<T, "stop">;

/** What `up` writes to DIR/state.json: connection details, and the PIDs `down` kills. */
export interface ServicesState {
  dir: string;
  startedAt: string;
  sshd: Data<Sshd>;
  slurm: Data<Slurm>;
  dask: Data<Dask>;
}

const defaultDir = () => join(process.env.TMPDIR ?? tmpdir(), "valence-services");

function stateFile(dir: string): string {
  return join(dir, "state.json");
}

function readState(dir: string): ServicesState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(dir), "utf8")) as ServicesState;
  } catch {
    return undefined;
  }
}

function allPids(state: ServicesState): number[] {
  // Dependants first: slurmd before slurmctld before munged; the worker before the scheduler.
  return [...state.sshd.pids, ...state.slurm.pids, ...state.dask.pids];
}

function strip<T extends { stop: unknown }>(handle: T): Data<T> {
  const { stop: _stop, ...data } = handle;
  return data;
}

async function up(dir: string): Promise<void> {
  const existing = readState(dir);
  if (existing && allPids(existing).every(isAlive)) {
    console.log(JSON.stringify(existing, null, 2));
    return;
  }
  if (existing) await down(dir);
  // A clean directory: stale Slurm state or munge sockets from a killed run confuse the daemons.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started: { stop(): Promise<void> }[] = [];
  try {
    const sshd = await startSshd(dir, { detached: true });
    started.push(sshd);
    const slurm = await startSlurm(dir, { detached: true });
    started.push(slurm);
    const dask = await startDask(dir, { detached: true });
    started.push(dask);
    const state: ServicesState = {
      dir,
      startedAt: new Date().toISOString(),
      sshd: strip(sshd),
      slurm: strip(slurm),
      dask: strip(dask),
    };
    writeFileSync(stateFile(dir), `${JSON.stringify(state, null, 2)}\n`);
    console.log(JSON.stringify(state, null, 2));
  } catch (e) {
    for (const s of started.reverse()) await s.stop();
    throw e;
  }
}

async function down(dir: string): Promise<void> {
  const state = readState(dir);
  if (!state) {
    console.log(`no services recorded in ${stateFile(dir)}`);
    return;
  }
  for (const pid of allPids(state)) await stopPid(pid);
  rmSync(stateFile(dir), { force: true });
  console.log(`stopped services in ${dir}`);
}

function status(dir: string): void {
  const state = readState(dir);
  if (!state) {
    console.log(`no services recorded in ${stateFile(dir)}`);
    process.exitCode = 1;
    return;
  }
  const dead = allPids(state).filter((pid) => !isAlive(pid));
  console.log(JSON.stringify(state, null, 2));
  if (dead.length > 0) {
    console.error(`not running: PIDs ${dead.join(", ")}`);
    process.exitCode = 1;
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, dirArg] = argv;
  const dir = resolve(dirArg ?? defaultDir());
  switch (command) {
    case "up":
      return up(dir);
    case "down":
      return down(dir);
    case "status":
      return status(dir);
    default:
      console.error("usage: cli.ts up|down|status [dir]   (default dir: $TMPDIR/valence-services)");
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
