import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { cpus, userInfo } from "node:os";
import { join } from "node:path";
import { ensureInstalled, requireExecutable } from "./install.js";
import { freePorts } from "./ports.js";
import { spawnService, stopAll, type ServiceProcess } from "./processes.js";
import { run } from "./run.js";
import type { StartOptions } from "./start-options.js";
import { waitUntil } from "./wait-until.js";

/** A one-node Slurm cluster (munged + slurmctld + slurmd) whose files all live in one dir. */
export interface Slurm {
  /** Pass to every Slurm client command (sbatch, squeue, scontrol, scancel): it names this cluster's config. */
  readonly env: { readonly SLURM_CONF: string };
  /** The only partition; it holds the single node "localhost". */
  readonly partition: "debug";
  readonly confPath: string;
  /** PIDs of slurmd, slurmctld and munged, for callers that stop them from another process. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

/** Node states in which the node takes jobs. */
const READY_STATES = new Set(["idle", "mixed", "allocated", "completing"]);

/**
 * Starts munged, slurmctld and slurmd for a one-node cluster with config, munge key and
 * socket, state, spool, logs and pid files under `dir/slurm`, on two free ports (never the
 * default 6817/6818), so several instances — one per concurrent test file — can run side
 * by side. Resolves once `sinfo` reports the node ready to take jobs.
 *
 * @example
 *   const slurm = await startSlurm(dir);
 *   execFileSync("sbatch", ["--parsable", "--wrap", "echo hi"], { env: { ...process.env, ...slurm.env } });
 *   await slurm.stop();
 */
export async function startSlurm(dir: string, options: StartOptions = {}): Promise<Slurm> {
  await ensureInstalled("slurm");
  const detached = options.detached ?? false;
  const base = join(dir, "slurm");
  const paths = {
    base,
    munge: join(base, "munge"),
    state: join(base, "state"),
    spool: join(base, "spool"),
    log: join(base, "log"),
    run: join(base, "run"),
  };
  for (const p of Object.values(paths)) mkdirSync(p, { recursive: true });
  // munged refuses a socket directory that others can write to, and wants to be able to
  // traverse it as any client: 0755, as in the Debian package.
  chmodSync(paths.munge, 0o755);

  const started: ServiceProcess[] = [];
  const stop = () => stopAll([...started].reverse());
  try {
    const socket = join(paths.munge, "munge.socket.2");
    started.push(await startMunged(paths, socket, detached));

    const [ctldPort, slurmdPort] = await freePorts(2, "0.0.0.0");
    const confPath = join(base, "slurm.conf");
    writeFileSync(confPath, slurmConf({ ...paths, socket, ctldPort: ctldPort!, slurmdPort: slurmdPort! }));
    const env = { SLURM_CONF: confPath };
    const daemonEnv = { ...process.env, ...env };

    const slurmctld = spawnService({
      name: "slurmctld",
      command: requireExecutable("slurm", "slurmctld"),
      // -D: foreground, so we own the PID; -i: ignore state left by an earlier run in this dir.
      args: ["-D", "-i", "-f", confPath],
      logFile: join(paths.log, "slurmctld.out"),
      env: daemonEnv,
      detached,
    });
    started.push(slurmctld);
    const slurmd = spawnService({
      name: "slurmd",
      command: requireExecutable("slurm", "slurmd"),
      args: ["-D", "-N", "localhost", "-f", confPath],
      logFile: join(paths.log, "slurmd.out"),
      env: daemonEnv,
      detached,
    });
    started.push(slurmd);

    const sinfo = requireExecutable("slurm", "sinfo");
    await waitUntil({
      component: "slurm",
      what: `node "localhost" to be idle (sinfo, SLURM_CONF=${confPath})`,
      check: async () => {
        const r = await run(sinfo, ["-h", "-n", "localhost", "-o", "%T"], { env: daemonEnv, timeoutMs: 5000 });
        if (r.code !== 0) throw new Error(r.stderr);
        const state = r.stdout.trim();
        if (READY_STATES.has(state)) return true;
        throw new Error(`node state is "${state}"`);
      },
      watch: started,
      logs: [join(paths.log, "slurmctld.log"), join(paths.log, "slurmd.log")],
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    return { env, partition: "debug", confPath, pids: started.map((p) => p.pid).reverse(), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function startMunged(paths: { munge: string; log: string; run: string }, socket: string, detached: boolean) {
  const keyFile = join(paths.munge, "munge.key");
  // munged insists the key is private to its owner.
  writeFileSync(keyFile, randomBytes(1024), { mode: 0o600 });
  const logFile = join(paths.log, "munged.log");
  const munged = spawnService({
    name: "munged",
    command: requireExecutable("slurm", "munged"),
    args: [
      "--foreground",
      // --force: start even if a stale socket is left over or directory modes are not to its taste.
      "--force",
      `--socket=${socket}`,
      `--key-file=${keyFile}`,
      `--pid-file=${join(paths.run, "munged.pid")}`,
      `--seed-file=${join(paths.munge, "munged.seed")}`,
      `--log-file=${logFile}`,
    ],
    logFile: join(paths.log, "munged.out"),
    detached,
  });
  const munge = requireExecutable("slurm", "munge");
  const unmunge = requireExecutable("slurm", "unmunge");
  await waitUntil({
    component: "slurm",
    what: `munged to answer on ${socket} (munge -n | unmunge)`,
    check: async () => {
      const cred = await run(munge, ["-n", "-S", socket], { timeoutMs: 5000 });
      if (cred.code !== 0) throw new Error(cred.stderr);
      const back = await run(unmunge, ["-S", socket], { input: cred.stdout, timeoutMs: 5000 });
      if (back.code !== 0) throw new Error(back.stderr);
      return true;
    },
    watch: [munged],
    logs: [logFile],
    timeoutMs: 10_000,
    intervalMs: 50,
  });
  return munged;
}

function slurmConf(o: {
  socket: string;
  state: string;
  spool: string;
  log: string;
  run: string;
  ctldPort: number;
  slurmdPort: number;
}): string {
  const user = userInfo().username;
  return [
    "ClusterName=valence-test",
    // slurmctld accepts "localhost" as its own name whatever the machine's hostname is.
    "SlurmctldHost=localhost(127.0.0.1)",
    `SlurmctldPort=${o.ctldPort}`,
    `SlurmdPort=${o.slurmdPort}`,
    `SlurmUser=${user}`,
    `SlurmdUser=${user}`,
    "AuthType=auth/munge",
    "CredType=cred/munge",
    `AuthInfo=socket=${o.socket}`,
    `StateSaveLocation=${o.state}`,
    `SlurmdSpoolDir=${o.spool}`,
    `SlurmctldPidFile=${join(o.run, "slurmctld.pid")}`,
    `SlurmdPidFile=${join(o.run, "slurmd.pid")}`,
    `SlurmctldLogFile=${join(o.log, "slurmctld.log")}`,
    `SlurmdLogFile=${join(o.log, "slurmd.log")}`,
    // No cgroups here (no systemd, maybe no writable cgroupfs): track processes by /proc.
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "JobAcctGatherType=jobacct_gather/none",
    "AccountingStorageType=accounting_storage/none",
    "JobCompType=jobcomp/none",
    "MpiDefault=none",
    "SwitchType=switch/none",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_CPU",
    "SchedulerType=sched/backfill",
    // Without this a submitted batch job waits 2–3 s for the scheduler's next pass.
    "SchedulerParameters=batch_sched_delay=0",
    "MailProg=/bin/true",
    // A node that was down (slurmd restarted) comes back by itself.
    "ReturnToService=2",
    // A finished job stays visible to `scontrol show job` for 5 minutes (there is no sacct).
    "MinJobAge=300",
    // scancel and time limits: SIGTERM, then SIGKILL after 2 s rather than 30, to keep cancel tests short.
    "KillWait=2",
    `NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cpus().length} State=UNKNOWN`,
    "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
    "",
  ].join("\n");
}
