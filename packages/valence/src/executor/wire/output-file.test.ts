import assert from "node:assert/strict";
import { test } from "node:test";
import { outputFileLine, parseOutputFile } from "./output-file.js";

test("output file lines are ASCII, so a byte offset is a string offset", () => {
  const line = outputFileLine("stdout", "héllo ✓ 🚀\n");
  assert.match(line, /^[\x00-\x7f]*$/);
  assert.equal(Buffer.byteLength(line), line.length);
  assert.deepEqual(parseOutputFile(line), { chunks: [{ stream: "stdout", text: "héllo ✓ 🚀\n" }], consumed: line.length });
});

test("a read that ends inside a line takes only the whole lines; the rest is read again next time", () => {
  const a = outputFileLine("stdout", "one\n");
  const b = outputFileLine("stderr", "two\n");
  const file = a + b;
  const cut = a.length + 5;
  const first = parseOutputFile(file.slice(0, cut));
  assert.deepEqual(first, { chunks: [{ stream: "stdout", text: "one\n" }], consumed: a.length });
  const second = parseOutputFile(file.slice(first.consumed));
  assert.deepEqual(second, { chunks: [{ stream: "stderr", text: "two\n" }], consumed: b.length });
  assert.deepEqual(parseOutputFile(""), { chunks: [], consumed: 0 });
});

test("a line that is not an output chunk is skipped, not thrown", () => {
  const good = outputFileLine("stderr", "ok");
  const text = `not json\n{"stream":"elsewhere","text":"x"}\n${good}`;
  assert.deepEqual(parseOutputFile(text), { chunks: [{ stream: "stderr", text: "ok" }], consumed: text.length });
});
