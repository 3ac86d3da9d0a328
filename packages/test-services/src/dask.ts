import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ensureInstalled, PYTHON } from "./install.js";
import { freePort, isPortFree, processListens } from "./ports.js";
import { spawnService, stopAll, type ServiceProcess } from "./processes.js";
import { run } from "./run.js";
import { ServiceStartError } from "./service-start-error.js";
import type { StartOptions } from "./start-options.js";
import { waitUntil } from "./wait-until.js";

/** A Dask scheduler with one worker on loopback. */
export interface Dask {
  /** "tcp://127.0.0.1:PORT", as `distributed.Client` takes it. */
  readonly schedulerAddress: string;
  /** The interpreter that has `distributed` installed; use it for clients, not the first python3 on PATH. */
  readonly python: "/usr/bin/python3";
  /** PIDs of the worker and the scheduler, for callers that stop them from another process. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

/** Polls from inside one Python process: importing distributed costs about a second each time. */
const READY_SCRIPT = `
import sys, time
from distributed import Client
addr, deadline = sys.argv[1], time.time() + float(sys.argv[2])
with Client(addr, timeout=10) as c:
    while not c.scheduler_info()["workers"]:
        if time.time() > deadline:
            sys.exit("no worker joined the scheduler")
        time.sleep(0.1)
`;

/**
 * Starts `dask scheduler` and one `dask worker` (2 threads, no nanny) on 127.0.0.1 with
 * logs and the worker's directory under `dir/dask`. Resolves once a client connected to the
 * scheduler sees the worker.
 *
 * @example
 *   const dask = await startDask(dir);
 *   execFileSync(dask.python, ["-c", `from distributed import Client; print(Client("${dask.schedulerAddress}").submit(lambda: 1 + 1).result())`]);
 *   await dask.stop();
 */
export async function startDask(dir: string, options: StartOptions = {}): Promise<Dask> {
  await ensureInstalled("dask");
  const detached = options.detached ?? false;
  const base = join(dir, "dask");
  const workerDir = join(base, "worker");
  mkdirSync(workerDir, { recursive: true });

  const port = await freePort();
  // A scheduler on a busy port dies, but its worker silently joins whatever scheduler owns
  // the port: make sure the port is ours before starting the worker.
  if (!(await isPortFree(port))) throw new ServiceStartError("dask", `port ${port} was taken before the scheduler started`);
  const schedulerAddress = `tcp://127.0.0.1:${port}`;

  const started: ServiceProcess[] = [];
  const stop = () => stopAll([...started].reverse());
  try {
    const scheduler = spawnService({
      name: "dask scheduler",
      command: PYTHON,
      args: [
        "-m", "distributed.cli.dask_scheduler",
        "--host", "127.0.0.1",
        "--port", String(port),
        "--dashboard-address", "127.0.0.1:0",
        "--no-show",
      ],
      logFile: join(base, "scheduler.log"),
      // This Dask queues tiny tasks on the scheduler by default (~2 ms each); saturation=inf
      // sends them straight to the worker (~0.4 ms), which is what executor tests measure.
      env: { ...process.env, DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION: "inf" },
      detached,
    });
    started.push(scheduler);
    await waitUntil({
      component: "dask",
      what: `the scheduler to listen on 127.0.0.1:${port}`,
      check: () => processListens(scheduler.pid, port),
      watch: [scheduler],
      timeoutMs: 20_000,
      intervalMs: 50,
    });

    const worker = spawnService({
      name: "dask worker",
      command: PYTHON,
      args: [
        "-m", "distributed.cli.dask_worker", schedulerAddress,
        "--host", "127.0.0.1",
        "--nthreads", "2",
        "--no-nanny",
        "--local-directory", workerDir,
      ],
      logFile: join(base, "worker.log"),
      detached,
    });
    started.push(worker);

    const waitSeconds = 20;
    await waitUntil({
      component: "dask",
      what: `a worker to join ${schedulerAddress}`,
      check: async () => {
        const r = await run(PYTHON, ["-c", READY_SCRIPT, schedulerAddress, String(waitSeconds)], {
          timeoutMs: (waitSeconds + 15) * 1000,
        });
        if (r.code !== 0) throw new Error(r.stderr.trim().split("\n").slice(-3).join("\n"));
        return true;
      },
      watch: started,
      timeoutMs: (waitSeconds + 20) * 1000,
      intervalMs: 200,
    });
    return { schedulerAddress, python: PYTHON, pids: started.map((p) => p.pid).reverse(), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
