import assert from "node:assert/strict";
import { it } from "node:test";
import { LineReader } from "./line-reader.js";

it("splits chunks into lines, whatever the chunk boundaries", () => {
  const lines: string[] = [];
  const reader = new LineReader((line) => lines.push(line));
  for (const chunk of ['{"a":1}\n{"b"', ':2}\n', "\n", "x", "y", "z\nlast", "\n"]) reader.push(chunk);
  assert.deepEqual(lines, ['{"a":1}', '{"b":2}', "xyz", "last"]);
});

it("joins a line of megabytes sent in many chunks once", () => {
  const lines: string[] = [];
  const reader = new LineReader((line) => lines.push(line));
  const big = "x".repeat(5_000_000);
  for (let i = 0; i < big.length; i += 65_536) reader.push(big.slice(i, i + 65_536));
  reader.push("\nnext\n");
  assert.equal(lines.length, 2);
  assert.equal(lines[0]?.length, big.length);
  assert.equal(lines[1], "next");
});
