/**
 * Errors thrown by tasks, on their way from the process that ran them (a
 * local worker, a remote host) back to the dispatcher.
 */
import { decode, encode } from "../../codec/index.js";

/**
 * A thrown value, encoded by the codec (which round-trips Errors) plus the
 * plain fields, which still make a readable error when the codec refuses the
 * thrown object (say, an Error holding a socket) or cannot restore it.
 */
export interface WireError {
  readonly encoded?: string;
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string;
}

/**
 * Encodes what a task threw. A non-Error is wrapped as `new Error(String(x))`,
 * as the in-process executors do, so a node's error is always an Error.
 */
export function toWireError(thrown: unknown): WireError {
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  let encoded: string | undefined;
  try {
    encoded = encode(error, "error");
  } catch {
    // The codec refused something hanging off the error; the plain fields below still tell the story.
  }
  const code = (error as { code?: unknown }).code;
  return {
    ...(encoded === undefined ? {} : { encoded }),
    name: error.name,
    message: error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(typeof code === "string" ? { code } : {}),
  };
}

/** The Error a task threw, as the codec restores it, else rebuilt from its plain fields. */
export function fromWireError(wire: WireError): Error {
  if (wire.encoded !== undefined) {
    try {
      const decoded = decode(wire.encoded);
      if (decoded instanceof Error) return decoded;
    } catch {
      // fall through to the plain fields
    }
  }
  const error = new Error(wire.message);
  error.name = wire.name;
  if (wire.stack !== undefined) error.stack = wire.stack;
  if (wire.code !== undefined) (error as { code?: string }).code = wire.code;
  return error;
}
