/**
 * Runs tasks on an existing Dask cluster. Each task is a Dask future whose
 * function, on a worker, writes the runner and the code bundle under the
 * worker's work directory and runs the task with `node`: in a persistent
 * runner the worker keeps (`isolation: "runner"`, the default) or in a node
 * process of its own (`isolation: "process"`). The runner and the bundle
 * travel through Dask once per content hash, so workers need no shared disk.
 *
 * The dispatcher talks to the cluster through one long-lived Python bridge
 * per scheduler address (see `bridge.ts` and `python/valence_dask_bridge.py`).
 *
 * @example
 * import { DaskExecutor } from "valence-executor-dask";
 * const dask = new DaskExecutor({ schedulerAddress: "tcp://127.0.0.1:8786" });
 * export const add = electron((x: number, y: number) => x + y, { executor: dask });
 */
import {
  RemoteExecutor,
  type RemoteResult,
  type RemoteStatus,
  type TaskPackage,
} from "valence/executor";
import { acquireBridge, releaseBridge } from "./bridge-pool.js";
import type { Bridge, BridgeTask } from "./bridge.js";
import { bridgeConfig, checkOptions, executorPluginDefaults, type DaskExecutorOptions } from "./options.js";

export class DaskExecutor extends RemoteExecutor<BridgeTask> {
  static override pluginName = "dask";
  declare readonly options: DaskExecutorOptions;

  constructor(options: DaskExecutorOptions) {
    super(options);
  }

  /** Bad options fail the dispatch at submission (not the constructor: a worker importing the user's module must not throw). */
  override validate(): void {
    super.validate();
    checkOptions(this.options ?? {});
  }

  /** Starts the bridge (Python, `import distributed`, connect) while the dispatch is still being bundled. */
  override warmUp(): void {
    try {
      this.validate();
      this.bridge();
    } catch {
      // A bad option or a missing script is reported by the task that needs them.
    }
  }

  override async setup(): Promise<void> {
    this.warmUp();
  }

  /** Closes the bridge unless another executor still uses it; the next task starts a new one. */
  override async teardown(): Promise<void> {
    this.clearRuntimeState("credentials");
    await releaseBridge(bridgeConfig(this.options), this.user());
  }

  /** Python starts, imports `distributed` and reaches the scheduler within `connectTimeout`; else a typed error that says which. */
  async validateCredentials(): Promise<void> {
    await this.bridge().ready;
  }

  async uploadTask(pkg: TaskPackage): Promise<void> {
    const bridge = this.bridge();
    await bridge.ready;
    await bridge.share([pkg.runner, pkg.bundle]);
  }

  async submitTask(pkg: TaskPackage): Promise<BridgeTask> {
    const bridge = this.bridge();
    await bridge.ready;
    return bridge.submit({
      key: `valence-${pkg.taskDir.replace(/\//g, "-")}`,
      runner: pkg.runner,
      bundle: pkg.bundle,
      taskDir: pkg.taskDir,
      taskJson: pkg.taskJson,
      nodePath: this.options.nodePath ?? executorPluginDefaults.nodePath,
      workdir: this.options.workerWorkdir,
      isolation: this.options.isolation ?? executorPluginDefaults.isolation,
      // The worker relays the task's output while it runs (the runner's output lines, or the
      // process's output.jsonl) through the bridge: no readOutputFile polling from here.
      live: pkg.live,
    });
  }

  async pollTask(task: BridgeTask): Promise<RemoteStatus> {
    return task.end?.status ?? { state: "running" };
  }

  /** The bridge pushes each task's end: no sleeping between polls. */
  protected override async waitForChange(task: BridgeTask): Promise<void> {
    await task.ended;
  }

  /** The timeline's row: the Dask worker that ran the task ("dask tcp://10.0.0.5:39211"). */
  protected override laneOf(task: BridgeTask): string | undefined {
    return task.end?.worker === undefined ? undefined : `dask ${task.end.worker}`;
  }

  async queryResult(task: BridgeTask): Promise<RemoteResult> {
    return (await task.ended).result;
  }

  /** Cancels the future and kills the process group of the task's node (its runner, or its own process) on its worker. */
  override async cancelTask(task: BridgeTask): Promise<void> {
    if (!task.end) await task.bridge.cancel(task.key);
  }

  /** The bridge for this executor's scheduler, shared with other instances; a new one if the last died. */
  private bridge(): Bridge {
    return acquireBridge(bridgeConfig(this.options), this.user());
  }

  /** This instance's identity as a user of a shared bridge (instances are rebuilt without their constructor). */
  private user(): object {
    return this.runtimeState("bridge-user", () => ({}));
  }
}
