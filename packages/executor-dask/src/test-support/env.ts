// Imported first by each dispatch test: a fresh data dir and no config file per test file (process).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const dataDir = mkdtempSync(join(tmpdir(), "valence-dask-test-"));
process.env.VALENCE_DATA_DIR = dataDir;
process.env.VALENCE_CONFIG = join(dataDir, "no-config.toml");
