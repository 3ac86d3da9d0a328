// Imported first by each scenario test: a fresh Valence data dir and no config file, per test file.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const dataDir = mkdtempSync(join(tmpdir(), "valence-slurm-test-"));
process.env.VALENCE_DATA_DIR = dataDir;
process.env.VALENCE_CONFIG = join(dataDir, "no-config.toml");
