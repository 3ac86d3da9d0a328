import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { buildSync } from "esbuild";
import { mapFor } from "./source-map.js";

describe("source maps of generated files", () => {
  const dir = mkdtempSync(join(tmpdir(), "valence-source-map-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("finds an inline map however long it is (a bundle's runs past 200 KB), and maps a line back to its source", () => {
    const src = join(dir, "big.ts");
    // Comments are not in the output, but the map carries the whole source: a 400 KB map.
    const filler = Array.from({ length: 4000 }, (_, i) => `// line ${i} ${"x".repeat(80)}`).join("\n");
    writeFileSync(src, `${filler}\nexport const answer: number = 42;\n`);
    const out = join(dir, "big.mjs");
    buildSync({ entryPoints: [src], outfile: out, bundle: true, format: "esm", sourcemap: "inline", logLevel: "silent" });
    const text = readFileSync(out, "utf8");
    assert.ok(text.length - text.lastIndexOf("sourceMappingURL=") > 200_000, "the map is not long enough to test this");
    const map = mapFor(out);
    assert.ok(map, "no source map found");
    const line = text.split("\n").findIndex((l) => l.includes("answer = 42"));
    const entry = map.findEntry(line, 0) as { originalSource?: string; originalLine?: number };
    assert.match(entry.originalSource ?? "", /big\.ts$/);
    assert.equal(entry.originalLine, 4000);
  });

  it("gives null for a file with no map", () => {
    const plain = join(dir, "plain.mjs");
    writeFileSync(plain, "export const x = 1;\n");
    assert.equal(mapFor(plain), null);
  });
});
