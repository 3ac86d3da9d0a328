// Imported first by each dispatch test: a fresh data dir, and a config file path of its own (written by the test if it needs one).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const dataDir = mkdtempSync(join(tmpdir(), "valence-ssh-data-"));
export const configFile = join(dataDir, "valence.toml");
process.env["VALENCE_DATA_DIR"] = dataDir;
process.env["VALENCE_CONFIG"] = configFile;
