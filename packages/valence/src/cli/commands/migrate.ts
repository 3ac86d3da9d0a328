import { loadConfig } from "../../engine/config/index.js";
import { openStore } from "../../engine/store/open-store.js";
import { describeStore, parseStoreSetting } from "../../engine/store/store-setting.js";
import { parseOrUsage, type Command } from "../command.js";

const usage = `valence migrate [--store URL]

Creates the store's tables, or brings them up to this Valence's schema, and
says which version they are at. Servers and embedded runs do the same when
they open a store, so this is for doing it ahead of time (a team's Postgres
before its servers start). The store is the config's (store = "…",
VALENCE_STORE) unless --store names one: "sqlite" or postgres://….`;

export const migrateCommand: Command = {
  name: "migrate",
  summary: "create or update the store's tables (SQLite or Postgres)",
  usage,
  async run(argv) {
    const { values } = parseOrUsage({ args: argv, options: { store: { type: "string" } } }, usage);
    const config = loadConfig();
    const setting = values.store === undefined ? config.store.value : parseStoreSetting(values.store, "--store");
    const store = await openStore(setting, config.dataDir.value);
    await store.close();
    const version =
      setting.kind === "sqlite" ? (await import("../../engine/store/migrations.js")).SCHEMA_VERSION : (await import("../../engine/store/postgres/postgres-schema.js")).PG_SCHEMA_VERSION;
    const where = setting.kind === "sqlite" ? `${config.dataDir.value}/valence.db` : describeStore(setting);
    console.log(`store ${where}: schema version ${version}, up to date`);
    return 0;
  },
};
