/** Errors as they are written to the store. */
import { encode } from "../../codec/index.js";
import { TaskCancelledError, UpstreamFailedError } from "../../errors.js";

/** Why a node that never ran ended: cancelled, or a node upstream failed. */
export function notRunError(status: "FAILED" | "CANCELLED", reason: string): Error {
  return status === "CANCELLED" ? new TaskCancelledError(reason) : new UpstreamFailedError(reason);
}

/** Encodes an error; one the codec refuses (a custom Error subclass) is kept as a plain Error. */
export function encodeError(e: Error): string {
  try {
    return encode(e, "error");
  } catch {
    const plain = new Error(e.message);
    plain.name = e.name;
    plain.stack = e.stack ?? "";
    return encode(plain, "error");
  }
}
