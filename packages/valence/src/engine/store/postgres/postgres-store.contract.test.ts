// The store contract (../test-support/store-contract.ts) on the Postgres driver, against a real
// Postgres started for this file; each contract test opens a store on a fresh, empty database.
import { after, before } from "node:test";
import { storeContract } from "../test-support/store-contract.js";
import { PostgresStore } from "./postgres-store.js";
import { startTestPostgres, type TestPostgres } from "./test-support/test-postgres.js";

let pg: TestPostgres | undefined;

before(async () => {
  pg = await startTestPostgres();
});

storeContract("postgres", async (dataDir) => {
  if (!pg) throw new Error("Postgres did not start (see the before hook's failure)");
  const { url } = await pg.freshDatabase();
  return PostgresStore.open({ url, dataDir });
});

// Registered after the contract's own `after` (which closes its stores): the server stops last.
after(async () => {
  await pg?.stop();
});
