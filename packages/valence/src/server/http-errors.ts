/**
 * Errors an API handler raises on purpose, each with its HTTP status and a
 * stable code; `toErrorReply` maps these and the engine's own typed errors
 * into the one JSON error shape.
 */
import { DecodeError, DispatchNotFoundError, NodeNotFoundError, StoreWriteError, TriggerNotFoundError, TriggerSpecError, ValenceError } from "../errors.js";
import type { ErrorReply } from "../api/wire.js";

export class HttpError extends ValenceError {
  override readonly code: string = "HTTP_ERROR";
  constructor(
    message: string,
    readonly status: 400 | 401 | 404 | 409 | 413 | 415 | 500,
  ) {
    super(message);
  }
}

export class BadRequestError extends HttpError {
  override readonly code = "BAD_REQUEST";
  constructor(message: string) {
    super(message, 400);
  }
}

/** A dispatch names a code bundle the server does not have: upload it (PUT /bundles/HASH) and send again. */
export class BundleMissingError extends HttpError {
  override readonly code = "BUNDLE_MISSING";
  constructor(message: string) {
    super(message, 400);
  }
}

export class NotFoundError extends HttpError {
  override readonly code = "NOT_FOUND";
  constructor(message: string) {
    super(message, 404);
  }
}

export class UnauthorizedError extends HttpError {
  override readonly code = "UNAUTHORIZED";
  constructor(message: string) {
    super(message, 401);
  }
}

export class PayloadTooLargeError extends HttpError {
  override readonly code = "PAYLOAD_TOO_LARGE";
  constructor(message: string) {
    super(message, 413);
  }
}

/** An action on a live run (cancel) asked of a dispatch that has already ended. */
export class DispatchFinishedError extends HttpError {
  override readonly code = "DISPATCH_FINISHED";
  constructor(message: string) {
    super(message, 409);
  }
}

export function toErrorReply(error: unknown): { status: number; body: ErrorReply } {
  // The server's disk, not the request: 507, and what to free.
  if (error instanceof StoreWriteError) return { status: 507, body: reply(error.code, error.message) };
  const errno = (error as NodeJS.ErrnoException)?.code;
  if (errno === "ENOSPC" || errno === "EDQUOT" || errno === "EROFS") {
    return { status: 507, body: reply("STORE_WRITE", `the server cannot write to its data dir: ${(error as Error).message}; free space there (or make it writable) and try again`) };
  }
  if (error instanceof HttpError) return { status: error.status, body: reply(error.code, error.message) };
  if (error instanceof DispatchNotFoundError) return { status: 404, body: reply(error.code, `no dispatch "${error.dispatchId}" on this server`) };
  if (error instanceof NodeNotFoundError) return { status: 404, body: reply(error.code, error.message) };
  if (error instanceof TriggerSpecError) return { status: 400, body: reply(error.code, error.message) };
  if (error instanceof TriggerNotFoundError) return { status: 404, body: reply(error.code, error.message) };
  if (error instanceof DecodeError) return { status: 400, body: reply(error.code, error.message) };
  if (error instanceof ValenceError) return { status: 409, body: reply(error.code, error.message) };
  return { status: 500, body: reply("INTERNAL", `internal error: ${(error as Error)?.message ?? String(error)}`) };
}

function reply(code: string, message: string): ErrorReply {
  return { error: { code, message } };
}
