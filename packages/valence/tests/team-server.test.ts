// A team server: `valence start --store postgres://…` on a real Postgres, the SDK dispatching through it.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { startServer, type RunningServer } from "../src/server/server.js";
import { startTestPostgres, type TestPostgres } from "../src/engine/store/postgres/test-support/test-postgres.js";
import { PostgresStore } from "../src/engine/store/postgres/postgres-store.js";

let pg: TestPostgres;
let url: string;
let server: RunningServer;

before(async () => {
  pg = await startTestPostgres();
  url = (await pg.freshDatabase()).url;
  server = await startServer({ dataDir: join(dataDir, "server-a"), port: 0, store: { kind: "postgres", url }, log: () => undefined });
  process.env.VALENCE_SERVER = server.info.url;
});
after(async () => {
  await server?.close();
  await pg?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const sdk = () => import("../src/index.js");
const flows = () => import("./fixtures/server-workflows.js");

describe("a server on Postgres", () => {
  it("runs dispatches through its runners and keeps them in the database", async () => {
    const { dispatch, getResult } = await sdk();
    const { fanOut, outer } = await flows();
    const id = await dispatch(fanOut)(5);
    const result = await getResult(id, { wait: true });
    assert.equal(result.status, "COMPLETED", result.error?.message);
    assert.deepEqual(result.result, [2, 3, 4, 5, 6]);
    const sub = await getResult(await dispatch(outer)(5), { wait: true });
    assert.equal(sub.result, 15);
    // In the database, read by a store of its own (as a second server would).
    const store = await PostgresStore.open({ url, dataDir: join(dataDir, "reader") });
    try {
      const d = await store.getDispatch(id);
      assert.equal(d?.status, "COMPLETED");
      assert.equal((await store.getNodes(id)).filter((n) => n.status === "COMPLETED").length, d?.nodeCount);
    } finally {
      await store.close();
    }
  });
});
