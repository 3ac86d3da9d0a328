// The store contract (test-support/store-contract.ts) on the SQLite driver.
import { SqliteStore } from "./sqlite-store.js";
import { storeContract } from "./test-support/store-contract.js";

storeContract("sqlite", (dataDir) => new SqliteStore(dataDir));
