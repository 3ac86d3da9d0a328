import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { definitionText } from "./call-site.js";

const dir = mkdtempSync(join(tmpdir(), "valence-site-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function fileWith(text: string): string {
  const f = join(dir, `f${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(f, text);
  return f;
}

describe("definitionText", () => {
  it("returns a one-line definition as written, types included", () => {
    const file = fileWith(`import x from "y";\nexport const add = electron((x: number, y: number) => x + y, { executor: "inline" });\nconst z = 1;\n`);
    assert.equal(definitionText({ file, line: 2, column: 20 }), 'export const add = electron((x: number, y: number) => x + y, { executor: "inline" });');
  });

  it("follows a definition over several lines, past brackets in strings, templates and comments", () => {
    const text = [
      "const f = electron(",
      '  async (s: string) => { // a ")" in a comment',
      '    const t = `${s})]}` + ")";',
      "    return [t, '(' ];",
      "  },",
      '  { name: "f" },',
      ");",
      "after();",
    ].join("\n");
    const file = fileWith(text);
    assert.equal(definitionText({ file, line: 1, column: 11 }), text.split("\n").slice(0, 7).join("\n"));
  });

  it("says nothing for a file it cannot read or a call it cannot close", () => {
    assert.equal(definitionText({ file: join(dir, "missing.ts"), line: 1, column: 1 }), undefined);
    const file = fileWith("const g = electron((x) => {\n  return x;\n");
    assert.equal(definitionText({ file, line: 1, column: 11 }), undefined);
  });
});
