/**
 * Every error Valence raises on purpose is a `ValenceError` with a stable `code`
 * and a message that says what to fix. Boundaries (CLI, store lookups) turn
 * them into one shape; nothing else needs to parse messages.
 */
export class ValenceError extends Error {
  readonly code: string = "VALENCE_ERROR";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A value cannot cross a process boundary. `path` names it, e.g. `args[1].config.handler`. */
export class UnsendableValueError extends ValenceError {
  override readonly code = "UNSENDABLE_VALUE";
  constructor(readonly path: string, readonly reason: string) {
    super(`${path}: ${reason}`);
  }
}

/** Encoded data is malformed (corrupt store row, truncated message). */
export class DecodeError extends ValenceError {
  override readonly code = "DECODE_ERROR";
}

/** The lattice could not be traced into a graph. */
export class TracingError extends ValenceError {
  override readonly code: string = "TRACING_ERROR";
}

/** A handle was used as a plain value while tracing (`h + 1`, `if (h > 3)`). */
export class HandleMisuseError extends TracingError {
  override readonly code = "HANDLE_MISUSE";
}

/** Lattice called with the wrong number of arguments. */
export class LatticeArgumentsError extends ValenceError {
  override readonly code = "LATTICE_ARGUMENTS";
}

/** An executor name resolved to nothing. */
export class UnknownExecutorError extends ValenceError {
  override readonly code = "UNKNOWN_EXECUTOR";
  constructor(readonly executorName: string, readonly known: readonly string[]) {
    super(
      `unknown executor "${executorName}". Known executors: ${known.join(", ") || "(none)"}. ` +
        `Install a plugin package, add its directory to executor_dirs in the config, or pass an executor instance.`,
    );
  }
}

/** An executor is unusable as written (missing `run`, bad options). */
export class ExecutorDefinitionError extends ValenceError {
  override readonly code: string = "EXECUTOR_DEFINITION";
}

/**
 * A plugin module (an executor-dir file or an npm package's entry) cannot be
 * used: it fails to import, or lacks what a plugin must export. `file` names it.
 */
export class ExecutorPluginError extends ExecutorDefinitionError {
  override readonly code = "EXECUTOR_PLUGIN";
  constructor(readonly file: string, readonly reason: string, options?: { cause?: unknown }) {
    super(`executor plugin ${file}: ${reason}`, options);
  }
}

/** A task exceeded its `timeout`. */
export class TaskTimeoutError extends ValenceError {
  override readonly code = "TASK_TIMEOUT";
  constructor(readonly timeoutMs: number) {
    super(`task timed out after ${timeoutMs} ms (electron option "timeout")`);
  }
}

/** The process running a task died (crash, `process.exit`, signal). */
export class WorkerCrashedError extends ValenceError {
  override readonly code = "WORKER_CRASHED";
}

/**
 * A remote executor's own step failed (credentials, upload, submit, poll,
 * fetching the result): the task may never have run. `stage` names the step
 * and `cause` holds what the transport said.
 */
export class RemoteExecutorError extends ValenceError {
  override readonly code = "REMOTE_EXECUTOR";
  constructor(
    readonly executorName: string,
    readonly stage: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${executorName} executor, ${stage}: ${message}`, options);
  }
}

/** A remote task's process ended without writing its result: it crashed, was killed, or never started. */
export class RemoteTaskError extends ValenceError {
  override readonly code = "REMOTE_TASK";
}

/** A step of an electron's set-up (DepsNpm, DepsBash, a FileTransfer) failed where the task runs. */
export class TaskSetupError extends ValenceError {
  override readonly code: string = "TASK_SETUP";
}

/**
 * A FileTransfer's strategy failed. `address` is the remote URL or path with
 * its credentials masked, as every part of the message is: this error travels
 * to the store and the dashboard, so it never carries the original as `cause`.
 */
export class TransferError extends TaskSetupError {
  override readonly code: string = "TRANSFER_FAILED";
  constructor(
    message: string,
    readonly strategy: string,
    readonly address: string,
  ) {
    super(message);
  }
}

/** The file to transfer is not there: a URL answering 404, a missing object or remote path, a missing local file. */
export class TransferSourceMissingError extends TransferError {
  override readonly code = "TRANSFER_SOURCE_MISSING";
}

/** The task was cancelled. */
export class TaskCancelledError extends ValenceError {
  override readonly code = "TASK_CANCELLED";
}

/** A dispatch id that the store does not know. */
export class DispatchNotFoundError extends ValenceError {
  override readonly code = "DISPATCH_NOT_FOUND";
  constructor(readonly dispatchId: string, readonly dataDir: string) {
    super(`no dispatch "${dispatchId}" in the store at ${dataDir} (check the id, or VALENCE_DATA_DIR)`);
  }
}

/** Cancel (or another action on a live run) asked of a dispatch that is not running here. */
export class DispatchNotRunningError extends ValenceError {
  override readonly code = "DISPATCH_NOT_RUNNING";
}

/** A node id that the dispatch does not have. */
export class NodeNotFoundError extends ValenceError {
  override readonly code = "NODE_NOT_FOUND";

  /** `nodes` (as they are to be shown) are not among the `count` nodes of dispatch `dispatchId`. */
  static outside(dispatchId: string, count: number, nodes: readonly (string | number)[]): NodeNotFoundError {
    return new NodeNotFoundError(`dispatch ${dispatchId} has nodes 0 to ${count - 1}; no such node: ${nodes.join(", ")}`);
  }
}

/** A node that did not run because a node it depends on failed. */
export class UpstreamFailedError extends ValenceError {
  override readonly code = "UPSTREAM_FAILED";
}

/** The store file is damaged, or was written by a newer Valence. */
export class StoreError extends ValenceError {
  override readonly code: string = "STORE_ERROR";
}
/**
 * The store could not write (its disk is full, its data dir read-only, an I/O
 * error). What is stored stays; the message names the data dir and the cause.
 */
export class StoreWriteError extends StoreError {
  override readonly code = "STORE_WRITE";
  constructor(
    message: string,
    readonly dataDir: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A lock file that cannot be opened or locked for a reason other than another holder (permissions, a full disk). */
export class LockError extends ValenceError {
  override readonly code = "LOCK_ERROR";
}
export class StoreVersionError extends StoreError {
  override readonly code = "STORE_VERSION";
}

/** The config file cannot be read or is invalid. */
export class ConfigError extends ValenceError {
  override readonly code: string = "CONFIG_ERROR";
}

/** The config file exists but cannot be read (a directory, no permission, not UTF-8). */
export class ConfigReadError extends ConfigError {
  override readonly code = "CONFIG_READ";
  constructor(readonly file: string, readonly reason: string, options?: { cause?: unknown }) {
    super(`cannot read config file ${file}: ${reason}`, options);
  }
}

/** The config file is not valid TOML; the message starts `file:line:column:` like a compiler's. */
export class ConfigSyntaxError extends ConfigError {
  override readonly code = "CONFIG_SYNTAX";
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}:${line}:${column}: ${detail}`, options);
  }
}

/**
 * A config value has the wrong type or form. `key` is its dotted path
 * (`executor_dirs`, `executors.ssh`); `source` is the file or environment variable it came from.
 */
export class ConfigValueError extends ConfigError {
  override readonly code = "CONFIG_VALUE";
  constructor(readonly source: string, readonly key: string, readonly problem: string) {
    super(`${source}: ${key} ${problem}`);
  }
}

/** The config file has a key Valence does not know (usually a typo); `known` lists the valid ones. */
export class UnknownConfigKeyError extends ConfigError {
  override readonly code = "CONFIG_UNKNOWN_KEY";
  constructor(readonly source: string, readonly key: string, readonly known: readonly string[]) {
    super(`${source}: unknown key "${key}". Known keys: ${known.join(", ")}`);
  }
}

/** An embedded dispatch whose process is gone will never finish. */
export class DispatcherGoneError extends ValenceError {
  override readonly code = "DISPATCHER_GONE";
}

/** A dispatch another live process runs: only one process at a time may run it. */
export class DispatchOwnedError extends ValenceError {
  override readonly code = "DISPATCH_OWNED";
}

/** A user's electron threw; carries the user's message and a trimmed stack. */
export class TaskFailedError extends ValenceError {
  override readonly code = "TASK_FAILED";
}

/** A dispatch's code bundle could not be loaded where it runs, or lacks an electron the graph names. */
export class BundleLoadError extends ValenceError {
  override readonly code = "BUNDLE_LOAD";
}

/** The process that ran a dispatch's tasks under the server exited while a task ran. */
export class RunnerCrashedError extends ValenceError {
  override readonly code = "RUNNER_CRASHED";
}

/** No Valence server answers at the address the config or `VALENCE_SERVER` names. */
export class ServerUnreachableError extends ValenceError {
  override readonly code = "SERVER_UNREACHABLE";
}

/** The server refused a request; `status` is the HTTP status and `serverCode` the error code it sent. */
export class ServerRequestError extends ValenceError {
  override readonly code = "SERVER_REQUEST";
  constructor(
    message: string,
    readonly status: number,
    readonly serverCode: string,
  ) {
    super(message);
  }
}

/** `valence start` while a server already runs on the data dir, or `stop` while none does. */
export class ServerStateError extends ValenceError {
  override readonly code = "SERVER_STATE";
}

/**
 * A trigger cannot be registered as written: a cron expression croner refuses, a directory
 * that does not exist, an interval that is not a duration, a lattice the file does not define.
 * `field` names what to fix (`cron`, `watch`, `every`, `lattice`).
 */
export class TriggerSpecError extends ValenceError {
  override readonly code = "TRIGGER_SPEC";
  constructor(readonly field: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** No trigger with this id on the server (removed, or never registered). */
export class TriggerNotFoundError extends ValenceError {
  override readonly code = "TRIGGER_NOT_FOUND";
  constructor(readonly triggerId: string) {
    super(`no trigger "${triggerId}" on this server; \`valence triggers ls\` lists them`);
  }
}

/** A trigger was asked of the embedded engine: triggers live in a server, which outlives the script. */
export class TriggerNeedsServerError extends ValenceError {
  override readonly code = "TRIGGER_NEEDS_SERVER";
}
