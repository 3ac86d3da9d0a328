/**
 * A Postgres URL as it may be shown: in an error, a log line, the dashboard.
 * The password never is.
 */

const MASK = "***";

/**
 * `url` with its password replaced by `***`, both the one in the user part
 * (`postgres://user:secret@host/db`) and a `password=` query parameter. A URL
 * that does not parse is masked by pattern, so even a malformed one is safe to show.
 */
export function maskUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.replace(/(\/\/[^/?#@]*?:)[^/?#]*@/, `$1${MASK}@`).replace(/([?&]password=)[^&#]*/gi, `$1${MASK}`);
  }
  if (u.password) u.password = MASK;
  for (const key of [...u.searchParams.keys()]) if (key.toLowerCase() === "password") u.searchParams.set(key, MASK);
  return u.toString();
}

/** Where a Postgres URL points: host, port and database, as libpq reads them (for messages). */
export interface PostgresTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

/** The host, port, database and user a URL names, with libpq's defaults (localhost, 5432, the user's name); undefined when it does not parse. */
export function targetOf(url: string): PostgresTarget | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") return undefined;
  const user = decodeURIComponent(u.username) || u.searchParams.get("user") || "postgres";
  const database = decodeURIComponent(u.pathname.replace(/^\//, "")) || u.searchParams.get("dbname") || user;
  const host = decodeURIComponent(u.hostname) || u.searchParams.get("host") || "localhost";
  return { host, port: Number(u.port || u.searchParams.get("port") || 5432), database, user };
}
