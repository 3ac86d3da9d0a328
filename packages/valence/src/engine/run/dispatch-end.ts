/**
 * How a dispatch ends, from the scheduler's final status: its value (the
 * lattice's return value, filled in) when it completed, else the error it
 * ended with. A value that cannot be stored turns a completed dispatch into a
 * failed one; a failed one names its first failed node and keeps the user's
 * stack frames only.
 */
import { encode } from "../../codec/index.js";
import { TaskCancelledError, TaskFailedError } from "../../errors.js";
import type { FinalStatus } from "../scheduler/transitions.js";
import { toError } from "../../values.js";

export interface DispatchOutcome {
  readonly status: FinalStatus;
  readonly value: unknown;
  readonly error: Error | undefined;
  /** The encoded value, for the store; set when it completed. */
  readonly encodedOutput: string | undefined;
}

export function dispatchOutcome(
  status: FinalStatus,
  output: () => unknown,
  firstFailure: { readonly node: number; readonly error: Error } | undefined,
  nodeLabel: (node: number) => string,
): DispatchOutcome {
  if (status === "COMPLETED") {
    try {
      const value = output();
      return { status, value, error: undefined, encodedOutput: encode(value, "lattice output") };
    } catch (e) {
      return { status: "FAILED", value: undefined, error: toError(e), encodedOutput: undefined };
    }
  }
  if (status === "FAILED" && firstFailure) {
    const f = firstFailure;
    const error = new TaskFailedError(`node ${nodeLabel(f.node)} failed: ${f.error.message}`, { cause: f.error });
    // The user's frames say where it went wrong; the dispatcher's own say nothing.
    const userFrames = (f.error.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
    error.stack = [`${error.name}: ${error.message}`, ...userFrames].join("\n");
    return { status, value: undefined, error, encodedOutput: undefined };
  }
  const error = status === "CANCELLED" ? new TaskCancelledError("the dispatch was cancelled") : undefined;
  return { status, value: undefined, error, encodedOutput: undefined };
}
