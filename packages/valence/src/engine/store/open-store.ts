/**
 * Opens the store a setting names. The Postgres driver (and its client) is
 * loaded only when a setting asks for it: an embedded dispatch never pays for it.
 */
import type { RunObserver } from "../observe/observation.js";
import { observeWrites } from "./observed-store.js";
import type { Store } from "./store.js";
import type { StoreSetting } from "./store-setting.js";
import { SqliteStore } from "./sqlite-store.js";

/**
 * The data dir still holds bundles, results and locks when the dispatches live in Postgres.
 * With an `observer` (a server's metrics), every write is timed for it, whichever the driver.
 */
export async function openStore(setting: StoreSetting, dataDir: string, observer?: RunObserver): Promise<Store> {
  const store = setting.kind === "sqlite" ? new SqliteStore(dataDir) : await openPostgres(setting.url, dataDir);
  return observer ? observeWrites(store, observer) : store;
}

async function openPostgres(url: string, dataDir: string): Promise<Store> {
  const { PostgresStore } = await import("./postgres/postgres-store.js");
  return PostgresStore.open({ url, dataDir });
}
