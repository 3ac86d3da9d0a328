// A directory watch: every new or changed file in ./inbox is counted by a dispatch on the server.
//   npx valence start && mkdir -p inbox && npx valence run examples/triggers/watch-inbox.ts
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { electron, lattice, trigger } from "valence";

export const count = electron((path: string) => {
  const text = readFileSync(path, "utf8");
  return { file: basename(path), lines: text.split("\n").filter(Boolean).length, words: text.split(/\s+/).filter(Boolean).length };
});

// Called with the file's absolute path.
export const ingest = lattice((path: string) => count(path));

// Registered with the server, which keeps it across restarts; this script may exit at once.
console.log(await trigger(ingest, { watch: "./inbox" }));
