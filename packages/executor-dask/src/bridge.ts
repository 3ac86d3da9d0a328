/**
 * The dispatcher's side of `python/valence_dask_bridge.py`: one Python
 * process holding a `distributed.Client`, spoken to in JSON lines. Requests
 * carry ids and may be answered out of order; a task's end arrives as an
 * event, so a waiting task learns of it at once.
 *
 * A task submitted with a live sink has its output relayed while it runs,
 * as "output" events (the worker logs them as Dask events to the bridge's
 * topic): they go to the sink until the task ends, and are dropped after,
 * since the task's result carries its whole output anyway.
 *
 * If the process ends, every request and task still open fails with the
 * end of its stderr; `closed` then says so and the pool starts a new one.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LiveSink, RemoteResult, RemoteStatus, SharedFile } from "valence/executor";
import { DaskBridgeError, DaskExecutorError, DaskPythonError, DaskSchedulerUnreachableError } from "./errors.js";
import { LineReader } from "./line-reader.js";
import type { BridgeConfig } from "./options.js";

/** What the bridge reported once connected. */
export interface BridgeInfo {
  readonly distributed: string;
  readonly workers: number;
  readonly python: string;
}

/** How a task ended, as the executor's `pollTask` and `queryResult` report it. */
export interface TaskEnd {
  readonly status: RemoteStatus;
  readonly result: RemoteResult;
  /** The address of the Dask worker that ran it, when it ran. */
  readonly worker?: string;
}

/** A task submitted through the bridge; `end` is set once `ended` resolves. */
export interface BridgeTask {
  readonly key: string;
  readonly bridge: Bridge;
  readonly ended: Promise<TaskEnd>;
  end?: TaskEnd;
}

export interface SubmitRequest {
  /** The Dask key: unique per attempt. */
  readonly key: string;
  readonly runner: SharedFile;
  readonly bundle: SharedFile;
  readonly taskDir: string;
  readonly taskJson: string;
  readonly nodePath: string;
  readonly workdir: string | undefined;
  /** How the worker runs the task: a persistent runner, or a node process of its own. */
  readonly isolation: "runner" | "process";
  /** Where the task's output goes while it runs; without it the worker relays nothing. */
  readonly live?: LiveSink | undefined;
}

/** The bridge's own stderr kept for error messages. */
const STDERR_TAIL = 4000;
/** Beyond `connectTimeout`, how long the Python may take to start and import `distributed`. */
const START_GRACE_MS = 30_000;
/** How long `close` waits for the bridge to cancel its futures and leave before killing it. */
const CLOSE_GRACE_MS = 5_000;

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(error: Error): void;
}

type Response = { id: number | null; ok: true } | { id: number | null; ok: false; error: string };
type BridgeEvent =
  | { event: "ready"; distributed: string; workers: number; python: string }
  | { event: "fatal"; kind: "import" | "connect"; message: string }
  | { event: "done"; key: string; result: { resultJson: string | null; stderrTail?: string; exitCode?: number | null; error?: string; worker?: string } }
  | { event: "failed"; key: string; reason: string }
  | { event: "cancelled"; key: string }
  | { event: "output"; key: string; stream: "stdout" | "stderr"; text: string };

export class Bridge {
  /** Resolves once the client is connected; rejects with a typed error saying what to fix. */
  readonly ready: Promise<BridgeInfo>;
  /** Resolves once the process has ended and everything open has been failed. */
  readonly exited: Promise<void>;
  closed = false;

  private readonly child: ChildProcess;
  private readonly requests = new Map<number, Pending>();
  private readonly tasks = new Map<string, (end: TaskEnd) => void>();
  /** Live sinks of the open tasks that have one, by key. */
  private readonly sinks = new Map<string, LiveSink>();
  private readonly shared = new Map<string, Promise<void>>();
  private nextId = 1;
  private stderr = "";
  private starting = true;
  private fatal: Error | undefined;
  private settleReady!: { resolve(info: BridgeInfo): void; reject(error: Error): void };
  private startTimer: NodeJS.Timeout | undefined;
  private readonly onExit: (() => void)[] = [];

  constructor(readonly config: BridgeConfig) {
    this.ready = new Promise<BridgeInfo>((resolve, reject) => (this.settleReady = { resolve, reject }));
    this.ready.catch(() => {}); // a failed start is reported to whoever awaits it, never as unhandled
    let exited!: () => void;
    this.exited = new Promise((resolve) => (exited = resolve));
    this.onExit.push(exited);

    const child = spawn(config.python, ["-u", bridgeScript(), config.schedulerAddress, String(config.connectTimeout)], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, PYTHONUNBUFFERED: "1" },
    });
    this.child = child;
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "EACCES") {
        this.fatal = new DaskPythonError(
          config.python,
          `dask executor: cannot start Python "${config.python}" (${error.code}): set the executor's python option ` +
            `to an interpreter that has Dask's distributed installed (e.g. /usr/bin/python3 with python3-distributed)`,
          { cause: error },
        );
      }
      this.die(this.fatal ?? new DaskBridgeError(`dask executor: the bridge process failed: ${error.message}`, this.stderr));
    });
    child.stdin!.on("error", () => {}); // EPIPE after the process died: its exit reports it
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-STDERR_TAIL);
    });
    const lines = new LineReader((line) => this.onLine(line));
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => lines.push(chunk));
    child.on("close", (code, signal) => {
      const how = signal ? `signal ${signal}` : `exit code ${String(code)}`;
      const tail = this.stderr.trim();
      this.die(
        this.fatal ??
          new DaskBridgeError(
            `dask executor: the Dask bridge process (${config.python}, scheduler ${config.schedulerAddress}) ended with ${how}` +
              (tail ? `; its stderr ends with:\n${tail}` : ""),
            tail,
          ),
      );
    });
    this.startTimer = setTimeout(() => {
      this.fatal = new DaskBridgeError(
        `dask executor: the Dask bridge (${config.python}) neither connected to ${config.schedulerAddress} nor failed ` +
          `within ${config.connectTimeout} s + ${START_GRACE_MS / 1000} s; it was stopped` +
          (this.stderr.trim() ? `. Its stderr ends with:\n${this.stderr.trim()}` : ""),
        this.stderr,
      );
      this.settleReady.reject(this.fatal);
      child.kill("SIGKILL");
    }, config.connectTimeout * 1000 + START_GRACE_MS);
    this.updateRef();
  }

  /** Makes sure the workers can get these files (each sent once per bridge, by hash). */
  share(files: readonly SharedFile[]): Promise<void> {
    return Promise.all(
      files.map((file) => {
        let put = this.shared.get(file.hash);
        if (!put) {
          put = this.request("put", { files: [{ hash: file.hash, path: file.localPath }] }).then(() => undefined);
          this.shared.set(file.hash, put);
          put.catch(() => this.shared.delete(file.hash));
        }
        return put;
      }),
    ).then(() => undefined);
  }

  /** Submits a task; resolves once the scheduler has it, with a handle whose `ended` settles when it finishes. */
  async submit(req: SubmitRequest): Promise<BridgeTask> {
    let settle!: (end: TaskEnd) => void;
    const task: BridgeTask = {
      key: req.key,
      bridge: this,
      ended: new Promise<TaskEnd>((resolve) => (settle = resolve)),
    };
    this.tasks.set(req.key, (end) => {
      task.end = end;
      settle(end);
    });
    if (req.live) this.sinks.set(req.key, req.live);
    const file = (f: SharedFile) => ({ hash: f.hash, path: f.localPath, relPath: f.relPath });
    try {
      await this.request("submit", {
        key: req.key,
        runner: file(req.runner),
        bundle: file(req.bundle),
        taskDir: req.taskDir,
        taskJson: req.taskJson,
        nodePath: req.nodePath,
        workdir: req.workdir ?? null,
        isolation: req.isolation,
        ...(req.live ? { live: true } : {}),
      });
    } catch (error) {
      this.tasks.delete(req.key);
      this.sinks.delete(req.key);
      this.updateRef();
      throw error;
    }
    return task;
  }

  /** Cancels the task's future and kills its process on whichever worker runs it. */
  async cancel(key: string): Promise<void> {
    if (!this.tasks.has(key)) return;
    await this.request("cancel", { key });
  }

  /** Closes stdin, so the bridge cancels what it still runs and leaves; kills it if it lingers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), CLOSE_GRACE_MS);
    timer.unref();
    await this.exited;
    clearTimeout(timer);
  }

  /** The bridge process's id (for tests that kill it). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Registers `listener` for the end of the process. */
  whenExited(listener: () => void): void {
    if (this.closed) listener();
    else this.onExit.push(listener);
  }

  private request(op: string, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(this.fatal ?? new DaskBridgeError("dask executor: the Dask bridge has ended"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.requests.set(id, { resolve, reject });
      this.updateRef();
      this.child.stdin!.write(JSON.stringify({ id, op, ...fields }) + "\n");
    });
  }

  private onLine(line: string): void {
    let msg: Response | BridgeEvent;
    try {
      msg = JSON.parse(line) as Response | BridgeEvent;
    } catch {
      this.stderr = (this.stderr + line + "\n").slice(-STDERR_TAIL);
      return;
    }
    if ("event" in msg) this.onEvent(msg);
    else if (typeof msg.id === "number") {
      const pending = this.requests.get(msg.id);
      if (!pending) return;
      this.requests.delete(msg.id);
      if (msg.ok) pending.resolve(msg as Record<string, unknown>);
      else pending.reject(new DaskBridgeError(`dask executor: the Dask bridge could not do that: ${msg.error}`));
      this.updateRef();
    }
  }

  private onEvent(msg: BridgeEvent): void {
    switch (msg.event) {
      case "ready":
        this.starting = false;
        clearTimeout(this.startTimer);
        this.settleReady.resolve({ distributed: msg.distributed, workers: msg.workers, python: msg.python });
        this.updateRef();
        return;
      case "fatal":
        this.fatal = fatalError(this.config, msg.kind, msg.message);
        this.settleReady.reject(this.fatal);
        return;
      case "done": {
        const r = msg.result;
        const result: RemoteResult = { resultJson: r.resultJson ?? undefined, stderrTail: r.stderrTail ?? "", exitCode: r.exitCode ?? null };
        const status: RemoteStatus = r.error ? { state: "failed", reason: r.error } : { state: "done" };
        this.endTask(msg.key, typeof r.worker === "string" ? { status, result, worker: r.worker } : { status, result });
        return;
      }
      case "failed":
        this.endTask(msg.key, { status: { state: "failed", reason: `the Dask task failed: ${msg.reason}` }, result: { resultJson: undefined } });
        return;
      case "cancelled":
        this.endTask(msg.key, { status: { state: "failed", reason: "its Dask future was cancelled" }, result: { resultJson: undefined } });
        return;
      case "output":
        this.onOutput(msg.key, msg.stream, msg.text);
        return;
      default: {
        const never: never = msg;
        return never;
      }
    }
  }

  /** Hands a chunk to its task's sink; a chunk of a task that has ended (or was never live) is dropped. */
  private onOutput(key: string, stream: "stdout" | "stderr", text: string): void {
    const sink = this.sinks.get(key);
    if (!sink) return;
    try {
      sink(stream, text);
    } catch {
      // The sink is the engine's: its failure must not break the bridge's other tasks.
    }
  }

  private endTask(key: string, end: TaskEnd): void {
    const settle = this.tasks.get(key);
    if (!settle) return;
    this.tasks.delete(key);
    this.sinks.delete(key);
    settle(end);
    this.updateRef();
  }

  /** Fails everything still open with `error`; runs once, when the process is gone. */
  private die(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.starting = false;
    clearTimeout(this.startTimer);
    this.settleReady.reject(error);
    for (const pending of this.requests.values()) pending.reject(error);
    this.requests.clear();
    const end: TaskEnd = { status: { state: "failed", reason: error.message }, result: { resultJson: undefined } };
    for (const settle of this.tasks.values()) settle(end);
    this.tasks.clear();
    this.sinks.clear();
    for (const listener of this.onExit.splice(0)) listener();
  }

  /** The bridge keeps this process alive only while something waits on it. */
  private updateRef(): void {
    const busy = !this.closed && (this.starting || this.requests.size > 0 || this.tasks.size > 0);
    const handles = [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as ({ ref?(): void; unref?(): void } | null)[];
    for (const h of handles) {
      if (busy) h?.ref?.();
      else h?.unref?.();
    }
  }
}

function fatalError(config: BridgeConfig, kind: "import" | "connect", message: string): DaskExecutorError {
  if (kind === "import") {
    return new DaskPythonError(
      config.python,
      `dask executor: ${config.python} cannot import distributed (${message}): install Dask's distributed for that ` +
        `interpreter (Debian: apt-get install python3-distributed; else pip install distributed) or set the executor's ` +
        `python option to one that has it`,
    );
  }
  return new DaskSchedulerUnreachableError(
    config.schedulerAddress,
    `dask executor: cannot reach the Dask scheduler at ${config.schedulerAddress} within ${config.connectTimeout} s ` +
      `(${message}): check schedulerAddress and that the scheduler is running and reachable from this machine, ` +
      `or raise connectTimeout`,
  );
}

let script: string | undefined;

/** `python/valence_dask_bridge.py`, beside `src/` and `dist/`, or found through the installed package. */
export function bridgeScript(): string {
  if (script) return script;
  const name = "python/valence_dask_bridge.py";
  const candidates = [fileURLToPath(new URL(`../${name}`, import.meta.url))];
  try {
    const pkg = createRequire(import.meta.url).resolve("valence-executor-dask/package.json");
    candidates.push(join(dirname(pkg), name));
  } catch {
    // not installed as a package: the first candidate is all there is
  }
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new DaskBridgeError(`dask executor: the bridge script is missing (looked at ${candidates.join(", ")}): reinstall valence-executor-dask`);
  script = found;
  return script;
}
