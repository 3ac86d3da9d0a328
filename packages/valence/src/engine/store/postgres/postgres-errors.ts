/**
 * Postgres's and the network's failures said in words: what could not be
 * done, against which database (its URL with the password masked), and what
 * to check. Errors that are already Valence's pass as they are.
 */
import { StoreError, StoreWriteError, ValenceError } from "../../../errors.js";
import { maskUrl, targetOf } from "./mask-url.js";

interface PgFailure {
  readonly message?: string;
  /** A SQLSTATE from the server, or a Node errno (ECONNREFUSED) from the socket. */
  readonly code?: unknown;
}

/** SQLSTATEs of a server that cannot take the write (out of disk or memory, read-only, an I/O error): told as StoreWriteError, like a full disk under SQLite. */
const CANNOT_WRITE = /^(53|58)|^25006$/;

/** Codes this file gives failures that have none of their own. */
const SYNTHETIC = new Set(["TIMEOUT", "LOST", "NUL"]);

/** What to check, for the failures a user can do something about; `target` is `host:port`. */
function hintFor(code: string, target: string): string {
  switch (code) {
    case "ECONNREFUSED":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ETIMEDOUT":
    case "TIMEOUT":
      return `check that Postgres is running and accepts TCP connections at ${target}, and that the host and port in the URL are right`;
    case "28P01":
    case "28000":
      return "check the user and password in the URL (and pg_hba.conf on the server)";
    case "3D000":
      return "create the database (createdb) or fix its name in the URL";
    case "42501":
      return "grant the user the rights to create tables in the database, or use a user that has them";
    case "57P01":
    case "57P02":
    case "57P03":
    case "08000":
    case "08003":
    case "08006":
    case "ECONNRESET":
    case "EPIPE":
    case "LOST":
      return "the server ended the connection (a restart, a failover, or an administrator); the store connects again for the next query";
    case "NUL":
      return "Postgres text cannot hold the NUL character (\\u0000); remove it from the name, source or message";
    default:
      return "check the server's log";
  }
}

/**
 * Failures of the connection rather than of the statement: the socket was reset, refused or
 * closed, the server ended the session (admin shutdown, crash, starting up) or said the
 * connection failed (class 08). Nothing about the statement itself was wrong, so the same
 * statement on a new connection may well succeed. Node's errno codes, then SQLSTATEs.
 */
const CONNECTION_CODES = new Set([
  "ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENETDOWN", "EAI_AGAIN",
  "ERR_STREAM_DESTROYED", "ERR_STREAM_WRITE_AFTER_END", "ERR_SOCKET_CLOSED",
  "57P01", "57P02", "57P03",
]);
/** pg's own words for a connection that is gone or never came (it gives these no code). */
const CONNECTION_MESSAGES = /Connection terminated|not queryable|timeout exceeded when trying to connect|Connection ended unexpectedly/i;

/**
 * The errors storeFailure said in words whose cause was the connection: what the cause said
 * (the password scrubbed), so a later message can quote it without the words around it.
 */
const connectionFailures = new WeakMap<object, { reason: string; code: string }>();

/** Whether `error` (pg's, Node's, or one storeFailure made of one) is the connection's failure, not the statement's. */
export function isConnectionFailure(error: unknown): boolean {
  if (!error || typeof error !== "object") return false;
  if (connectionFailures.has(error)) return true;
  if (error instanceof ValenceError) return false;
  const e = error as PgFailure;
  const code = typeof e.code === "string" ? e.code : "";
  if (CONNECTION_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
  // A SQLSTATE or errno of any other kind is the statement's (or the server's) answer.
  if (code) return false;
  return CONNECTION_MESSAGES.test(e.message ?? "");
}

function codeOf(error: PgFailure): string {
  if (typeof error.code === "string") return error.code;
  if (/timeout/i.test(error.message ?? "")) return "TIMEOUT";
  if (/Connection terminated|not queryable/i.test(error.message ?? "")) return "LOST";
  return "";
}

/** `host H, port P, database D` for a message; the masked URL when it does not parse. */
export function describeTarget(url: string): string {
  const t = targetOf(url);
  return t ? `host ${t.host}, port ${t.port}, database ${t.database}` : maskUrl(url);
}

/** `host:port` for a hint. */
function hostPort(url: string): string {
  const t = targetOf(url);
  return t ? `${t.host}:${t.port}` : "the host and port in the URL";
}

/** ` (CODE)` after a reason that does not already say it; nothing for this file's own codes. */
function codeSuffix(code: string, reason: string): string {
  return code && !SYNTHETIC.has(code) && !reason.includes(code) ? ` (${code})` : "";
}

/**
 * Removes any password the text may echo (pg's own messages do not, but a
 * URL that failed to parse is quoted back by some layers).
 */
function scrub(text: string, url: string): string {
  let out = text.split(url).join(maskUrl(url));
  try {
    const pw = decodeURIComponent(new URL(url).password);
    if (pw) out = out.split(pw).join("***");
  } catch {
    /* an unparsable URL: already replaced whole above */
  }
  return out;
}

/** The store could not be opened: the server is unreachable, refuses us, or the database is missing. */
export function openError(error: unknown, url: string, timeoutMs: number): StoreError {
  if (error instanceof StoreError) return error;
  const e = (error ?? {}) as PgFailure;
  const code = codeOf(e);
  let reason = scrub(e.message || String(error), url);
  if (code === "TIMEOUT") reason += ` (no answer within ${timeoutMs} ms)`;
  // No `cause`: a URL that failed to parse is kept on its error, password and all.
  return new StoreError(
    `cannot open the Postgres store ${maskUrl(url)} (${describeTarget(url)}): ${reason}${codeSuffix(code, reason)}; ${hintFor(code, hostPort(url))}`,
  );
}

/**
 * A read or write that failed after the store was open; Valence's own errors (a refused write)
 * pass as they are. `commit`: the COMMIT itself failed, so whether the write landed is not known.
 */
export function storeFailure(error: unknown, url: string, dataDir: string, doing: "read" | "write" | "commit"): unknown {
  if (error instanceof ValenceError) return error;
  const e = error as PgFailure | undefined;
  if (!e || typeof e !== "object" || !("message" in e)) return error;
  let code = codeOf(e);
  // Postgres text has no NUL; the server says so as an encoding error.
  if (code === "22021" && /0x00/.test(e.message ?? "")) code = "NUL";
  const reason = scrub(e.message ?? String(error), url);
  const where = maskUrl(url);
  const text = `cannot ${doing === "read" ? "read" : "write"} the Postgres store ${where}: ${reason}${codeSuffix(code, reason)}`;
  if (doing !== "read" && CANNOT_WRITE.test(code)) {
    return new StoreWriteError(
      `${text}. Free space on the database server (or make it writable); what is stored stays, and a dispatch that failed for this can be ` +
        `redispatched with its completed results reused (valence redispatch ID --reuse)`,
      dataDir,
    );
  }
  const hint = hintFor(code, hostPort(url));
  const outcome = { read: "", write: "; nothing of this write was stored", commit: "; the write was sent but its commit was not confirmed, so it may or may not be stored" }[doing];
  const out = new StoreError(`${text}${outcome}; ${hint}`);
  if (isConnectionFailure(error)) connectionFailures.set(out, { reason, code });
  return out;
}

/**
 * A retried write's claim of its id waited `waitedMs` for an earlier try that is still open on
 * the server (its connection dropped, and the server has not noticed yet): whether that try
 * commits is still open, so this is tried again like a lost connection.
 */
export function earlierTryOpen(url: string, waitedMs: number): StoreError {
  const reason = `an earlier try of this write was still open on the server after ${waitedMs} ms (its connection dropped, and the server has not noticed yet)`;
  const out = new StoreError(
    `cannot write the Postgres store ${maskUrl(url)}: ${reason}; its commit was not confirmed, so it may or may not be stored; ${hintFor("LOST", hostPort(url))}`,
  );
  connectionFailures.set(out, { reason, code: "LOST" });
  return out;
}

/** What the store was doing when it gave up waiting for the database, for the end of the message. */
export type GaveUpOn = "read" | "write" | "write-in-doubt" | "transaction" | "transaction-in-doubt";

/**
 * The database stayed unreachable (connection failures, one after another, each tried again
 * after a wait) for `forMs`, longer than the store waits: said in words, naming host, port and
 * database (the password masked), the last failure, and what became of the write.
 */
export function unreachableFailure(last: unknown, url: string, forMs: number, tries: number, doing: GaveUpOn): StoreError {
  const known = last && typeof last === "object" ? connectionFailures.get(last) : undefined;
  const e = (last ?? {}) as PgFailure;
  const code = known?.code ?? codeOf(e);
  const reason = known?.reason ?? scrub(e.message || String(last), url);
  const verb = doing === "read" ? "read" : "write";
  const outcome = {
    read: "",
    write: "; nothing of this write was stored",
    "write-in-doubt": "; a commit of this write was sent but never confirmed, so it may or may not be stored",
    transaction: "; nothing of this transaction was stored, and its function was not run",
    "transaction-in-doubt": "; the transaction's commit was sent but never confirmed, so it may or may not be stored",
  }[doing];
  const seconds = (forMs / 1000).toFixed(1);
  return new StoreError(
    `cannot ${verb} the Postgres store ${maskUrl(url)} (${describeTarget(url)}): the database was unreachable for ${seconds} s ` +
      `(${tries} ${tries === 1 ? "try" : "tries"}, the last: ${reason}${codeSuffix(code, reason)})${outcome}; ${hintFor("ECONNREFUSED", hostPort(url))}`,
  );
}

/** A listener could not connect, or lost its connection: what and where, in words, the password masked. */
export function listenFailure(error: unknown, url: string, channel: string): StoreError {
  if (error instanceof StoreError) return error;
  const e = (error ?? {}) as PgFailure;
  const code = codeOf(e);
  const reason = scrub(e.message || String(error), url);
  return new StoreError(
    `cannot listen on channel ${channel} of the Postgres store ${maskUrl(url)} (${describeTarget(url)}): ${reason}${codeSuffix(code, reason)}; ${hintFor(code, hostPort(url))}`,
  );
}
