// Per-task overhead of the remote executors: a chain of N dependent trivial tasks on `ssh` or
// `dask`, dispatched once to warm up (upload, connection, bridge) and then timed; per task =
// time / N. Connection settings come from env (bench/run.ts starts sshd and Dask on loopback).
//   node .build/remote-scenario.mjs ssh 20
// Prints one JSON line: { scenario, perTaskMs, all }. Uses the public API only.
import { dispatch, electron, getResult, lattice, type Lattice } from "valence";
import { SSHExecutor } from "valence-executor-ssh";
import { DaskExecutor } from "valence-executor-dask";

const env = process.env;
// `ssh-process` / `dask-process`: the same with `isolation: "process"` (a node process per task).
const which = process.argv[2] ?? "";
const isolation = which.endsWith("-process") ? ("process" as const) : ("runner" as const);
const ssh = env["BENCH_SSH_PORT"]
  ? new SSHExecutor({
      isolation,
      hostname: "127.0.0.1",
      port: Number(env["BENCH_SSH_PORT"]),
      username: env["BENCH_SSH_USER"] as string,
      sshKeyFile: env["BENCH_SSH_KEY"] as string,
      knownHostsFile: env["BENCH_SSH_KNOWN_HOSTS"] as string,
      remoteWorkdir: env["BENCH_SSH_WORKDIR"] as string,
      nodePath: process.execPath,
    })
  : undefined;
const dask = env["BENCH_DASK_ADDRESS"]
  ? new DaskExecutor({ schedulerAddress: env["BENCH_DASK_ADDRESS"], nodePath: process.execPath, isolation })
  : undefined;

export const incSsh = electron((i: number) => i + 1, { executor: ssh ?? "inline" });
export const incDask = electron((i: number) => i + 1, { executor: dask ?? "inline" });

function chainOf(inc: (x: number) => number) {
  return lattice((n: number) => {
    let x = inc(0);
    for (let i = 1; i < n; i++) x = inc(x);
    return x;
  });
}
export const chainSsh = chainOf(incSsh);
export const chainDask = chainOf(incDask);

async function timeOnce(workflow: Lattice<[number], unknown>, n: number): Promise<number> {
  const t0 = performance.now();
  const id = await dispatch(workflow)(n);
  const result = await getResult(id, { wait: true });
  const ms = performance.now() - t0;
  if (result.status !== "COMPLETED" || result.result !== n) {
    throw new Error(`wrong result (status ${result.status}${result.error ? `: ${result.error.message}` : ""})`);
  }
  return ms;
}

if (["ssh", "ssh-process", "dask", "dask-process"].includes(which)) {
  const n = Number(process.argv[3] ?? 20);
  const workflow = (which.startsWith("ssh") ? chainSsh : chainDask) as Lattice<[number], unknown>;
  await timeOnce(workflow, 2); // warm-up: connection or bridge, runner and bundle upload
  const all: number[] = [];
  for (let i = 0; i < 3; i++) all.push((await timeOnce(workflow, n)) / n);
  const sorted = [...all].sort((a, b) => a - b);
  console.log(JSON.stringify({ scenario: `${which}_chain_${n}`, perTaskMs: sorted[1], all }));
  process.exit(0);
}
