/**
 * Opens the store a setting names. The Postgres driver (and its client) is
 * loaded only when a setting asks for it: an embedded dispatch never pays for it.
 */
import type { Store } from "./store.js";
import type { StoreSetting } from "./store-setting.js";
import { SqliteStore } from "./sqlite-store.js";

/** The data dir still holds bundles, results and locks when the dispatches live in Postgres. */
export async function openStore(setting: StoreSetting, dataDir: string): Promise<Store> {
  if (setting.kind === "sqlite") return new SqliteStore(dataDir);
  const { PostgresStore } = await import("./postgres/postgres-store.js");
  return PostgresStore.open({ url: setting.url, dataDir });
}
