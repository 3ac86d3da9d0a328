/**
 * One real Postgres for a test file (startPostgres from @valence/test-services, in a temp
 * dir), and a fresh empty database per call of `freshDatabase`: each test gets a store of its own.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPostgres, type Postgres } from "@valence/test-services";

export interface TestPostgres {
  readonly server: Postgres;
  /** Creates an empty database; its name and URL. */
  freshDatabase(): Promise<{ name: string; url: string }>;
  /** Runs SQL in `database` through psql. */
  psql(sql: string, database: string): Promise<string>;
  /** Stops the server and removes its dir. */
  stop(): Promise<void>;
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "valence-pg-"));
  let server: Postgres;
  try {
    server = await startPostgres(dir);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let n = 0;
  return {
    server,
    async freshDatabase() {
      const name = `valence_test_${++n}`;
      await server.psql(`CREATE DATABASE ${name}`);
      const url = new URL(server.url);
      url.pathname = `/${name}`;
      return { name, url: url.toString() };
    },
    psql: (sql, database) => server.psql(sql, database),
    async stop() {
      try {
        await server.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
