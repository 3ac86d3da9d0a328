// Imported first: a fresh data dir and no user config for the bench process.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const dataDir = mkdtempSync(join(tmpdir(), "valence-ui-bench-"));
process.env.VALENCE_DATA_DIR = dataDir;
process.env.VALENCE_CONFIG = join(dataDir, "no-config.toml");
delete process.env.VALENCE_TOKEN;
