/**
 * Micro-benchmark of the codec against bare JSON, for the hot-path shapes a
 * scheduler moves: a number, a small record, a 10k-element array, plus one
 * value that needs the tagged form. Not a test; prints ns per encode+decode.
 *
 *   node --import tsx packages/valence/src/codec/bench-codec.ts
 */
import { decode, encode } from "./index.js";

const cases: ReadonlyArray<[string, unknown, boolean]> = [
  ["number", 42, true],
  ["small object", { id: 17, name: "add", args: [3, 4], ok: true, note: null }, true],
  ["10k numbers", Array.from({ length: 10_000 }, (_, i) => i * 1.5), true],
  ["10k small objects", Array.from({ length: 10_000 }, (_, i) => ({ i, s: `n${i}` })), true],
  ["tagged: small object with bigint and Date", { id: 17n, at: new Date(0), args: [3, 4] }, false],
  ["tagged: 10k numbers with one NaN", [...Array.from({ length: 9_999 }, (_, i) => i), NaN], false],
];

function timePerOp(fn: () => void, minMs = 300): number {
  for (let i = 0; i < 200; i++) fn();
  let iterations = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minMs * 1e6) {
    for (let i = 0; i < 100; i++) fn();
    iterations += 100;
    elapsed = Number(process.hrtime.bigint() - start);
  }
  return elapsed / iterations;
}

function format(ns: number): string {
  return ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(0)} ns`;
}

let sink: unknown;
console.log("case".padEnd(44), "codec".padStart(10), "JSON".padStart(10), "ratio".padStart(7));
for (const [name, value, jsonComparable] of cases) {
  const codec = timePerOp(() => {
    sink = decode(encode(value));
  });
  const json = jsonComparable
    ? timePerOp(() => {
        sink = JSON.parse(JSON.stringify(value));
      })
    : NaN;
  const ratio = jsonComparable ? `${(codec / json).toFixed(2)}x` : "-";
  console.log(name.padEnd(44), format(codec).padStart(10), (jsonComparable ? format(json) : "-").padStart(10), ratio.padStart(7));
}
if (sink === Symbol.for("never")) console.log(sink);
