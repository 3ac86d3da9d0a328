/** Where the dispatch runner's entry module is, and the node flags it needs. */
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface RunnerCommand {
  readonly file: string;
  readonly execArgv: string[];
}

/**
 * From `dist/` the entry is plain JavaScript; from source (tests under tsx)
 * it needs tsx too, named by its full URL: the runner works in the client's
 * directory, where a bare "tsx" would not resolve.
 */
export function runnerCommand(): RunnerCommand {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const file = join(dirname(here), `runner-main${ext}`);
  return { file, execArgv: ext === ".ts" ? ["--import", import.meta.resolve("tsx")] : [] };
}
