import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DecodeError, UnsendableValueError } from "../errors.js";
import { decode, encode, isPlainJsonSafe } from "./index.js";
import { container, sendable } from "./test-support/arbitraries.js";

const runs = { numRuns: 500 };

describe("codec properties", () => {
  it("round-trips every sendable value to a deep-equal one", () => {
    fc.assert(
      fc.property(sendable, (value) => {
        assert.deepStrictEqual(decode(encode(value)), value);
      }),
      runs,
    );
  });

  it("round-trips fast-check's anything() with Maps, Sets, bigints, typed arrays and holes", () => {
    const anything = fc.anything({
      withBigInt: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withSparseArray: true,
      withNullPrototype: true,
      // Invalid Dates are left out: deepStrictEqual calls two of them different (NaN !== NaN).
      withDate: false,
    });
    fc.assert(
      fc.property(anything, (value) => {
        assert.deepStrictEqual(decode(encode(value)), value);
      }),
      runs,
    );
  });

  it("keeps Buffers as Buffers wherever they sit", () => {
    fc.assert(
      fc.property(fc.uint8Array(), sendable, (bytes, other) => {
        const back = decode(encode({ buffer: Buffer.from(bytes), other, list: [Buffer.from(bytes)] })) as {
          buffer: unknown;
          list: unknown[];
        };
        assert.ok(Buffer.isBuffer(back.buffer));
        assert.ok(Buffer.isBuffer(back.list[0]));
        assert.deepStrictEqual(back.buffer, Buffer.from(bytes));
      }),
      runs,
    );
  });

  it("writes plain JSON exactly when the value is JSON-safe, and JSON text for it", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = encode(value);
        if (isPlainJsonSafe(value)) assert.equal(text, JSON.stringify(value));
        else assert.ok(text.startsWith("~v1:"));
        assert.deepStrictEqual(decode(text), value);
      }),
      runs,
    );
  });

  it("preserves shared references: the same object twice decodes to one object", () => {
    fc.assert(
      fc.property(container, sendable, (shared, other) => {
        const back = decode(encode({ first: shared, other, rest: [other, shared], map: new Map([["k", shared]]) })) as {
          first: unknown;
          rest: unknown[];
          map: Map<string, unknown>;
        };
        assert.equal(back.rest[1], back.first);
        assert.equal(back.map.get("k"), back.first);
      }),
      runs,
    );
  });

  it("preserves cycles: a container that holds itself decodes to one that holds itself", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), sendable, { maxKeys: 4 }), sendable, (fields, other) => {
        const root: Record<string, unknown> = { ...fields, other };
        Object.defineProperty(root, "self", { value: root, enumerable: true, writable: true, configurable: true });
        const list: unknown[] = [other, root];
        list.push(list);
        root.list = list;
        const back = decode(encode(root)) as { self: unknown; list: unknown[] };
        assert.equal(back.self, back);
        assert.equal(back.list[1], back);
        assert.equal(back.list[2], back.list);
        assert.deepStrictEqual(back, root);
      }),
      runs,
    );
  });

  it("names the exact path of a function hidden anywhere in a value", () => {
    type Step = { kind: "prop"; key: string; path: string } | { kind: "index"; at: number } | { kind: "map"; key: string };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.constantFrom(
        { kind: "prop" as const, key: "a", path: ".a" },
        { kind: "prop" as const, key: "x1_$", path: ".x1_$" },
        { kind: "prop" as const, key: "a b", path: '["a b"]' },
        { kind: "prop" as const, key: "__proto__", path: ".__proto__" },
        { kind: "prop" as const, key: "0", path: '["0"]' },
      ),
      fc.nat(4).map((at) => ({ kind: "index" as const, at })),
      fc.constantFrom("k", "").map((key) => ({ kind: "map" as const, key })),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 6 }), sendable, (steps, filler) => {
        let value: unknown = () => 1;
        let path = "";
        for (const s of [...steps].reverse()) {
          if (s.kind === "prop") {
            const holder: Record<string, unknown> = { before: filler };
            Object.defineProperty(holder, s.key, { value, enumerable: true, writable: true, configurable: true });
            value = holder;
            path = s.path + path;
          } else if (s.kind === "index") {
            value = [...Array.from({ length: s.at }, () => 0), value];
            path = `[${s.at}]${path}`;
          } else {
            value = new Map([[s.key, value]]);
            path = `.get(${JSON.stringify(s.key)})${path}`;
          }
        }
        assert.throws(
          () => encode(value, "args"),
          (error: unknown) => error instanceof UnsendableValueError && error.path === `args${path}`,
        );
      }),
      { ...runs, examples: [[[{ kind: "prop", key: "before", path: ".before" }], 1]] },
    );
  });

  it("decodes any string to a value or a DecodeError, never another failure", () => {
    const check = (text: string): void => {
      try {
        decode(text);
      } catch (error) {
        assert.ok(error instanceof DecodeError, String(error));
      }
    };
    fc.assert(fc.property(fc.string({ unit: "binary" }), check), runs);
    fc.assert(fc.property(fc.jsonValue(), (body) => check(`~v1:${JSON.stringify(body)}`)), runs);
    fc.assert(
      fc.property(sendable, fc.nat(), (value, cut) => {
        const text = encode(value);
        check(text.slice(0, cut % (text.length + 1)));
      }),
      runs,
    );
  });
});
