import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { dirname, join } from "node:path";
import { ensureInstalled, postgresBinary } from "./install.js";
import { freePort, processListens } from "./ports.js";
import { spawnService } from "./processes.js";
import { run } from "./run.js";
import { ServiceStartError } from "./service-start-error.js";
import type { StartOptions } from "./start-options.js";
import { waitUntil } from "./wait-until.js";

/** A Postgres cluster of its own in a temp dir, listening on 127.0.0.1 only. */
export interface Postgres {
  /** `postgres://valence@127.0.0.1:PORT/postgres` (trust authentication on loopback; no password). */
  readonly url: string;
  readonly host: "127.0.0.1";
  readonly port: number;
  readonly user: "valence";
  /** The postmaster's pid (its backends are its children). */
  readonly pid: number;
  /** Runs SQL through `psql` and returns its unaligned output (for tests that need no client library). */
  psql(sql: string, database?: string): Promise<string>;
  /** Fast shutdown (SIGINT: clients are disconnected) and wait for the exit. */
  stop(): Promise<void>;
}

const USER = "valence";

let user: { uid: number; gid: number } | undefined;

/** The `postgres` system user's uid and gid (looked up once): initdb and postgres refuse to run as root. */
function serverUser(): { uid: number; gid: number } {
  return (user ??= lookUpServerUser());
}

function lookUpServerUser(): { uid: number; gid: number } {
  const id = (flag: "-u" | "-g") => {
    try {
      return Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
    } catch {
      throw new ServiceStartError("postgres", `there is no "postgres" system user to run the server as; install the postgresql package`);
    }
  };
  return { uid: id("-u"), gid: id("-g") };
}

/**
 * The server's user must pass through every directory above its own: temp dirs made by
 * `mkdtemp` are 0700. Adds only the search bit for others (no listing, no reading).
 */
function letTraverse(dir: string): void {
  for (let d = dir; ; d = dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) === 0) chmodSync(d, (mode & 0o7777) | 0o001);
    if (dirname(d) === d) return;
  }
}

/** `command args` as the server's user when we are root; `setpriv` execs, so the pid is the server's own. */
function asServerUser(command: string, args: readonly string[]): { command: string; args: string[] } {
  if (userInfo().uid !== 0) return { command, args: [...args] };
  const { uid, gid } = serverUser();
  return { command: "setpriv", args: [`--reuid=${uid}`, `--regid=${gid}`, "--init-groups", "--", command, ...args] };
}

/**
 * initdb (trust authentication, superuser `valence`) in `dir/postgres`, then `postgres` on a
 * free loopback port with its socket in that directory. Resolves once it accepts a query.
 * The server runs as a child of this process: a test process that dies takes it along.
 *
 * @example
 *   const pg = await startPostgres(dir);
 *   assert.equal(await pg.psql("select 1 + 1"), "2");
 *   await pg.stop();
 */
export interface PostgresOptions extends StartOptions {
  /**
   * Keep Postgres's fsync and full-page writes on (a benchmark's fair comparison with SQLite,
   * whose WAL mode syncs at checkpoints). Commits still do not wait for the disk
   * (`synchronous_commit=off`), as SQLite's `synchronous=NORMAL` does not.
   */
  durable?: boolean;
}

export async function startPostgres(dir: string, options: PostgresOptions = {}): Promise<Postgres> {
  await ensureInstalled("postgres");
  const initdb = postgresBinary("initdb");
  const postgres = postgresBinary("postgres");
  const psqlBin = postgresBinary("psql");
  if (!initdb || !postgres || !psqlBin) throw new ServiceStartError("postgres", "initdb, postgres or psql not found after installing postgresql");
  const base = join(dir, "postgres");
  const data = join(base, "data");
  mkdirSync(base, { recursive: true });
  if (userInfo().uid === 0) {
    const { uid, gid } = serverUser();
    chownSync(base, uid, gid);
    letTraverse(dirname(base));
  }
  const init = asServerUser(initdb, ["-D", data, "-A", "trust", "-U", USER, "--no-sync", "-E", "UTF8", "--locale", "C"]);
  const r = await run(init.command, init.args, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new ServiceStartError("postgres", `initdb failed (exit ${r.code})`, { logTail: `${r.stdout}\n${r.stderr}` });

  const port = await freePort();
  const start = asServerUser(postgres, [
    "-D", data,
    "-p", String(port),
    "-k", base,
    "-c", "listen_addresses=127.0.0.1",
    // Team-server tests run a few dozen dispatch runners, each with a small pool of its own.
    "-c", "max_connections=300",
    "-c", "synchronous_commit=off",
    // A test cluster: durability across a power cut is not what it is for.
    ...(options.durable ? [] : ["-c", "fsync=off", "-c", "full_page_writes=off"]),
  ]);
  const server = spawnService({ name: "postgres", command: start.command, args: start.args, logFile: join(base, "postgres.log"), detached: options.detached ?? false });
  const psql = async (sql: string, database = "postgres"): Promise<string> => {
    const q = await run(psqlBin, ["-h", "127.0.0.1", "-p", String(port), "-U", USER, "-d", database, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql], { timeoutMs: 30_000 });
    if (q.code !== 0) throw new Error(`psql: ${q.stderr.trim() || `exit ${q.code}`}`);
    return q.stdout.trim();
  };
  const stop = async () => {
    if (server.exit() === undefined) {
      try {
        process.kill(server.pid, "SIGINT"); // fast shutdown; stop() escalates if it hangs
      } catch {
        /* already gone */
      }
    }
    await server.stop(10_000);
  };
  try {
    await waitUntil({
      component: "postgres",
      what: `postgres to accept queries on 127.0.0.1:${port}`,
      check: async () => (await processListens(server.pid, port)) && (await psql("select 1")) === "1",
      watch: [server],
      timeoutMs: 60_000,
      intervalMs: 100,
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `postgres://${USER}@127.0.0.1:${port}/postgres`, host: "127.0.0.1", port, user: USER, pid: server.pid, psql, stop };
}
