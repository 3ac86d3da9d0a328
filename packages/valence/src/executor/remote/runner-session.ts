/**
 * The dispatcher's side of one persistent task runner (`valence-task
 * --serve`, see executor/wire/serve-protocol.ts), over whatever carries its
 * stdin and stdout: an SSH channel, a pipe. The transport feeds what it
 * receives in (`stdout`, `stderr`, `exited`); the session matches result
 * lines to the tasks it sent.
 *
 * When the runner ends, every task still in it gets a "runner ended" outcome
 * with the exit and the end of the runner's stderr: the caller decides
 * whether that fails the task (it crashed the runner) or sends it again
 * (another task's cancel killed the runner under it).
 */
import { StringDecoder } from "node:string_decoder";
import type { LiveSink } from "../capture.js";
import { parseOutputLine, parseReadyLine, runLine, sliceResultLine, SERVE_FORMAT } from "../wire/serve-protocol.js";

/** What carries lines to the runner. */
export interface RunnerTransport {
  write(text: string): void;
  /** Closes the runner's stdin: it exits at once. */
  end(): void;
}

/** How the runner process ended, as its transport saw it. */
export interface RunnerExit {
  readonly code: number | null;
  readonly signal?: string;
  /** The transport itself failed (a dropped connection). */
  readonly error?: Error;
}

export type RunnerOutcome =
  | { readonly kind: "result"; /** the result file's JSON, as a per-task runner would have written it */ readonly resultJson: string }
  | {
      readonly kind: "runner ended";
      /** For the task's error: how the runner ended, e.g. "the task runner ended (exit code 1)". */
      readonly reason: string;
      readonly exit: RunnerExit;
      readonly stderrTail: string;
    };

/** Bytes of the runner's stderr kept for the error of a task it took down. */
const STDERR_TAIL_CHARS = 4000;

export class RunnerSession {
  /** Resolves with the runner's pid once it said it is ready; rejects if it ended first or speaks another format. */
  readonly ready: Promise<number>;
  /** Resolves with how the runner ended, once it has. */
  readonly done: Promise<RunnerExit>;
  private settleDone!: (exit: RunnerExit) => void;
  private pidValue: number | undefined;
  private endedWith: RunnerExit | undefined;
  private readonly waiting = new Map<string, (outcome: RunnerOutcome) => void>();
  /** Tasks in flight whose output is followed while they run. */
  private readonly live = new Map<string, LiveSink>();
  private readonly decoder = new StringDecoder("utf8");
  private partial = "";
  private tail = "";
  private nextId = 0;
  private settleReady!: { resolve: (pid: number) => void; reject: (error: Error) => void };

  constructor(private readonly transport: RunnerTransport) {
    this.ready = new Promise<number>((resolve, reject) => (this.settleReady = { resolve, reject }));
    // A runner that never became ready is reported by whoever awaits `ready`; none may be.
    this.ready.catch(() => {});
    this.done = new Promise<RunnerExit>((resolve) => (this.settleDone = resolve));
  }

  /** The runner's pid (its process group, when started as a group leader), once ready. */
  get pid(): number | undefined {
    return this.pidValue;
  }

  /** Tasks sent and not yet answered. */
  get inFlight(): number {
    return this.waiting.size;
  }

  get ended(): boolean {
    return this.endedWith !== undefined;
  }

  /** The end of what the runner wrote on stderr. */
  stderrTail(): string {
    return this.tail;
  }

  /** Sends one task; the outcome arrives when its result line does, or when the runner ends. */
  run(bundle: string, taskJson: string, live?: LiveSink): Promise<RunnerOutcome> {
    if (this.endedWith) return Promise.resolve(this.endOutcome(this.endedWith));
    const id = String(this.nextId++);
    if (live) this.live.set(id, live);
    const outcome = new Promise<RunnerOutcome>((resolve) => this.waiting.set(id, resolve));
    this.transport.write(runLine(id, bundle, taskJson));
    return outcome;
  }

  /** Closes the runner's stdin: it exits; tasks in it end as "runner ended". */
  close(): void {
    if (!this.endedWith) this.transport.end();
  }

  /** Feeds what the runner wrote on stdout. */
  stdout(chunk: Buffer | string): void {
    const text = this.partial + (typeof chunk === "string" ? chunk : this.decoder.write(chunk));
    const lines = text.split("\n");
    this.partial = lines.pop() ?? "";
    for (const line of lines) this.line(line);
  }

  /** Feeds what the runner wrote on stderr. */
  stderr(chunk: Buffer | string): void {
    this.tail = (this.tail + chunk.toString()).slice(-STDERR_TAIL_CHARS);
  }

  /** The runner ended (or its transport did): every task still in it ends too. */
  exited(exit: RunnerExit): void {
    if (this.endedWith) return;
    this.endedWith = exit;
    if (this.pidValue === undefined) {
      const tail = this.tail.trim();
      this.settleReady.reject(new Error(`${this.endReason(exit)}${tail ? `; its stderr ends with:\n${tail}` : ""}`));
    }
    const outcome = this.endOutcome(exit);
    for (const resolve of this.waiting.values()) resolve(outcome);
    this.waiting.clear();
    this.live.clear();
    this.settleDone(exit);
  }

  private line(line: string): void {
    const result = sliceResultLine(line);
    if (result) {
      const resolve = this.waiting.get(result.id);
      this.waiting.delete(result.id);
      this.live.delete(result.id);
      resolve?.({ kind: "result", resultJson: result.resultJson });
      return;
    }
    const output = parseOutputLine(line);
    if (output) {
      this.live.get(output.id)?.(output.stream, output.text);
      return;
    }
    const ready = parseReadyLine(line);
    if (ready && "pid" in ready && this.pidValue === undefined) {
      this.pidValue = ready.pid;
      this.settleReady.resolve(ready.pid);
    } else if (ready && "format" in ready) {
      this.settleReady.reject(
        new Error(`the task runner speaks serve format ${String(ready.format)}; this valence speaks ${SERVE_FORMAT}: use the same valence version on both sides`),
      );
      this.transport.end();
    } else {
      this.stderr(`(stdout) ${line}\n`);
    }
  }

  private endOutcome(exit: RunnerExit): RunnerOutcome {
    return { kind: "runner ended", reason: this.endReason(exit), exit, stderrTail: this.tail };
  }

  private endReason(exit: RunnerExit): string {
    const how = exit.error ? exit.error.message : exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
    return `the task runner ended${this.pidValue === undefined ? " before it was ready" : ""} (${how})`;
  }
}
