import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive, startPostgres, type Postgres } from "./index.js";

describe("startPostgres", () => {
  let dir: string;
  let pg: Postgres;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "valence-postgres-"));
    pg = await startPostgres(dir);
  }, { timeout: 180_000 });

  after(async () => {
    await pg?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers SQL on 127.0.0.1 as the valence superuser, with a database of our own", async () => {
    assert.match(pg.url, /^postgres:\/\/valence@127\.0\.0\.1:\d+\/postgres$/);
    assert.equal(await pg.psql("select current_user || ' ' || (select setting from pg_settings where name = 'listen_addresses')"), "valence 127.0.0.1");
    await pg.psql("create database valence_test");
    await pg.psql("create table t (x int); insert into t values (41), (1)", "valence_test");
    assert.equal(await pg.psql("select sum(x) from t", "valence_test"), "42");
  });

  it("refuses bad SQL with the server's message", async () => {
    await assert.rejects(pg.psql("select from nowhere_at_all"), /relation "nowhere_at_all" does not exist/);
  });

  it("stops: the server exits, its port closes, and stopping twice is harmless", async () => {
    const other = await startPostgres(join(dir, "second"));
    try {
      assert.notEqual(other.port, pg.port);
      assert.ok(existsSync(join(dir, "second", "postgres", "data", "PG_VERSION")));
      assert.match(readFileSync(join(dir, "second", "postgres", "data", "PG_VERSION"), "utf8"), /^\d+/);
    } finally {
      await other.stop();
    }
    assert.equal(isAlive(other.pid), false, "the postmaster is gone");
    const refused = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: "127.0.0.1", port: other.port }, () => (s.destroy(), resolve(false)));
      s.on("error", () => resolve(true));
    });
    assert.ok(refused, "nothing listens on its port any more");
    await other.stop();
  });
});
