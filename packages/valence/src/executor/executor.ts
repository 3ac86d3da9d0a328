/**
 * The root of every executor: the dispatcher hands it a `Task` and awaits a
 * `TaskOutcome`. User-facing subclasses are `BaseExecutor` (sync `run`) and
 * `AsyncBaseExecutor` (async `run`); built-ins that run code elsewhere
 * override `execute` directly.
 */
import { ExecutorDefinitionError } from "../errors.js";
import type { Task, TaskMetadata, TaskOutcome } from "./task.js";

export interface ExecutorOptions {
  /** Most tasks this executor runs at once; the scheduler holds back the rest. */
  readonly maxConcurrency?: number;
}

/**
 * How an executor travels through the store: the registry name of its class
 * and its own fields. It is rebuilt without calling the constructor, as
 * Covalent unpickles executors, so a subclass's constructor arguments need
 * not be known.
 */
export interface ExecutorSpec {
  readonly plugin: string;
  readonly state: Readonly<Record<string, unknown>>;
}

const runtimeStates = new WeakMap<Executor, Map<string, unknown>>();

export abstract class Executor {
  /** Registry name; defaults to the class name (which matches `executorPluginName` in the usual case). */
  static pluginName?: string;

  readonly options: ExecutorOptions;

  constructor(options: ExecutorOptions = {}) {
    this.options = { ...options };
  }

  get pluginName(): string {
    const ctor = this.constructor as typeof Executor;
    return ctor.pluginName ?? ctor.name;
  }

  get maxConcurrency(): number {
    return this.options.maxConcurrency ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Whether tasks run outside the dispatch's own process and so need the code
   * bundle (`task.bundlePath`). In-process executors skip bundling entirely.
   */
  get needsBundle(): boolean {
    return false;
  }

  /**
   * A hint that tasks are coming: start slow resources (worker processes,
   * connections) now, while the dispatch is still being bundled and stored.
   * Idempotent and cheap to call; `setup` still runs before the first task.
   */
  warmUp(): void {}

  /** Called once per dispatch before the first task on this executor. */
  async setup(): Promise<void> {}
  /** Called once per dispatch after the last task on this executor. */
  async teardown(): Promise<void> {}
  /** Called when a running task is cancelled; `execute` also sees its signal abort. */
  async cancel(_meta: TaskMetadata): Promise<void> {}

  /** Runs one task. Never throws for a task's own failure: that is an `ok: false` outcome. */
  abstract execute(task: Task): Promise<TaskOutcome>;

  /** Throws `ExecutorDefinitionError` if this executor cannot run tasks as written. */
  validate(): void {}

  /**
   * State of this instance that must not travel with it: connections,
   * caches, child processes. It is kept outside the instance's fields, so
   * `toSpec` leaves it out and an executor rebuilt from its spec (without its
   * constructor, so without `#private` fields either) makes its own on first use.
   *
   * @example
   * private get client() { return this.runtimeState("client", () => new Client(this.hostname)); }
   */
  protected runtimeState<T>(key: string, make: () => T): T {
    let state = runtimeStates.get(this);
    if (!state) {
      state = new Map();
      runtimeStates.set(this, state);
    }
    if (!state.has(key)) state.set(key, make());
    return state.get(key) as T;
  }

  /** Forgets one entry of `runtimeState` (a closed connection), so the next use makes a new one. */
  protected clearRuntimeState(key: string): void {
    runtimeStates.get(this)?.delete(key);
  }

  toSpec(): ExecutorSpec {
    const state: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this)) if (typeof v !== "function") state[k] = v;
    return { plugin: this.pluginName, state };
  }
}

/** Rebuilds an executor from its spec and class, without running the constructor. */
export function executorFromSpec(cls: abstract new (...a: never[]) => object, spec: ExecutorSpec): Executor {
  const instance = Object.create(cls.prototype as object) as Executor;
  Object.assign(instance, structuredClone(spec.state));
  if (!(instance instanceof Executor) && typeof (instance as { execute?: unknown }).execute !== "function") {
    throw new ExecutorDefinitionError(`registry entry "${spec.plugin}" is not an executor class`);
  }
  return instance;
}

export function isExecutor(x: unknown): x is Executor {
  // Structural: an executor class may come from another copy of the SDK (a bundle).
  return (
    typeof x === "object" &&
    x !== null &&
    typeof (x as Executor).execute === "function" &&
    typeof (x as Executor).toSpec === "function"
  );
}
