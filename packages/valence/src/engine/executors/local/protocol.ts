/**
 * The messages between the pool and its worker processes. Both directions
 * carry arrays: many tasks (or results) travel in one IPC message, because a
 * message costs far more than the few bytes of a trivial task.
 */
import type { WireError } from "../../../executor/wire/wire-error.js";
import type { OutputStream } from "../../../executor/capture.js";

export type { WireError };

/**
 * One task as the worker sees it. Values are already encoded by the codec.
 * The bundle travels once per message (a worker serves one bundle), and the
 * task's metadata not at all: the worker has no use for it, and at ten
 * thousand tasks its bytes would cost more than the tasks.
 */
export interface WireTask {
  /** Pool-unique, so results can be matched without trusting order. */
  readonly id: number;
  readonly electronId: string;
  /** `encode(args, "args")`: an array. */
  readonly args: string;
  /** `encode(kwargs, "kwargs")`; absent when the electron got no named args. */
  readonly kwargs?: string;
}


/** A finished task. Empty stdout/stderr are left out to keep messages small. */
export type WireResult =
  | { readonly id: number; readonly ok: true; readonly value?: string; readonly stdout?: string; readonly stderr?: string; /** when its body began (ms since the epoch) */ readonly s?: number }
  | { readonly id: number; readonly ok: false; readonly error: WireError; readonly stdout?: string; readonly stderr?: string };

export interface RunMessage {
  readonly bundlePath: string;
  readonly run: readonly WireTask[];
}

export interface DoneMessage {
  readonly done: readonly WireResult[];
}

/** A running task's output so far (capture.ts's live chunks), sent before its result. */
export interface OutputMessage {
  readonly output: { readonly id: number; readonly stream: OutputStream; readonly text: string };
}

export type WorkerMessage = DoneMessage | OutputMessage;
