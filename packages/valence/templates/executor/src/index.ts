/**
 * The "__NAME__" executor, a Valence executor plugin.
 *
 * Valence hands every task of an electron with `executor: "__NAME__"` (or
 * `executor: new __CLASS_NAME__({...})`) to `run` below. As generated, `run`
 * calls the task's function right here, in the process that runs the dispatch,
 * as the built-in `inline` executor does: replace it with your own way of
 * running work (a thread pool, a service you call, a GPU queue). For tasks
 * that run on another machine, start from `valence new executor NAME --remote`.
 *
 * `npm test` runs Valence's executor contract suite against this class: keep
 * it passing as you change it.
 */
import { AsyncBaseExecutor, type ExecutorOptions, type Kwargs, type TaskFunction, type TaskMetadata } from "valence/executor";

/**
 * The name workflows use (`executor: "__NAME__"`) and the config file section
 * (`[executors.__NAME__]`). It must equal `valence.executor.name` in package.json.
 */
export const executorPluginName = "__NAME__";

/**
 * The options an executor picked by name starts from; a `[executors.__NAME__]`
 * section in valence.toml overrides them. Plain JSON values only: they are
 * shown by `valence executors` and stored with every dispatch.
 */
export const executorPluginDefaults = {
  maxConcurrency: 32,
} satisfies __CLASS_NAME__Options;

export interface __CLASS_NAME__Options extends ExecutorOptions {
  // `maxConcurrency` (inherited): most tasks this executor runs at once.
  // Add your own options here, e.g.
  //   readonly endpoint?: string;
}

export class __CLASS_NAME__ extends AsyncBaseExecutor {
  /** Stored dispatches name the executor by this, so the registry finds this class again by its plugin name. */
  static override pluginName = executorPluginName;

  // IMPORTANT: an executor travels with its dispatch as its own fields and is
  // rebuilt from them WITHOUT calling the constructor (as Covalent unpickles
  // executors). So:
  // - keep options in plain-data fields (strings, numbers, booleans, arrays,
  //   plain objects), set in the constructor;
  // - keep connections, clients, child processes and caches out of fields (and
  //   out of #private fields, which a rebuilt instance lacks): create them on
  //   first use with `this.runtimeState(key, make)`, e.g.
  //     private get client(): Client {
  //       return this.runtimeState("client", () => new Client(this.endpoint));
  //     }
  //   and drop them with `this.clearRuntimeState(key)` once closed.

  /** One options object: the registry builds named executors as `new __CLASS_NAME__({ ...defaults, ...config })`. */
  constructor(options: __CLASS_NAME__Options = {}) {
    super({ ...executorPluginDefaults, ...options });
    // Copy each of your own options into a field, with its default, e.g.
    //   this.endpoint = options.endpoint ?? "http://127.0.0.1:8080";
  }

  /**
   * Set-up: runs before the first task on this instance (one instance may
   * serve several dispatches at once; this runs when the first one starts).
   * Open connections, start workers, check credentials here.
   */
  override async setup(): Promise<void> {}

  /**
   * Runs one task and returns its value; a throw or rejection fails the task
   * with that error. Whatever the task writes to stdout/stderr meanwhile is
   * captured for its node.
   *
   * `fn` is the electron's function and `args` its positional arguments.
   * `kwargs` holds named arguments ({} unless the electron got some; the
   * built-in executors call `fn(...args)`). `taskMetadata` is
   * `{ dispatchId, nodeId, resultsDir }`: a place to write files for this
   * dispatch, and ids for your logs.
   */
  async run(fn: TaskFunction, args: unknown[], _kwargs: Kwargs, _taskMetadata: TaskMetadata): Promise<unknown> {
    // Replace with your own way of running the task.
    return await (fn as (...a: unknown[]) => unknown)(...args);
  }

  /**
   * Cancel: a running task was cancelled or timed out. Valence has already
   * failed its node and stopped waiting for `run`; stop the work itself here
   * (abort the request, kill the job) if it runs somewhere you can reach.
   */
  override async cancel(_taskMetadata: TaskMetadata): Promise<void> {}

  /**
   * Teardown: runs after the last task on this instance, when the last
   * dispatch using it is done. Close what `setup` opened.
   */
  override async teardown(): Promise<void> {}
}
