#!/usr/bin/env node
// Runs every *.test.ts under packages/*/{src,tests} with node's test runner.
// Node 20's --test takes no globs, so the files are listed here.
// Usage: node scripts/run-tests.mjs [substring-filter ...]
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist") continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const files = [];
for (const pkg of readdirSync(join(root, "packages"))) {
  for (const sub of ["src", "tests"]) {
    try { walk(join(root, "packages", pkg, sub), files); } catch { /* no such dir */ }
  }
}
const chosen = files.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
if (chosen.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", ...chosen], {
  stdio: "inherit",
  cwd: root,
});
process.exit(r.status ?? 1);
