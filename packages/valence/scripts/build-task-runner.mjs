// Builds `valence-task` (src/task-runner/main.ts) into one self-contained
// ES module, dist/valence-task.mjs: remote executors upload this single file
// to hosts that have nothing but node.
import { build } from "esbuild";
import { chmodSync } from "node:fs";

const outfile = new URL("../dist/valence-task.mjs", import.meta.url).pathname;
await build({
  entryPoints: [new URL("../src/task-runner/main.ts", import.meta.url).pathname],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outfile,
  banner: { js: "#!/usr/bin/env node" },
  logLevel: "warning",
});
chmodSync(outfile, 0o755);
