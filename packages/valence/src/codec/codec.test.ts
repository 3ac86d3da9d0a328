import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import { types } from "node:util";
import { decode, encode, isPlainJsonSafe } from "./index.js";

function roundTrip<T>(value: T): T {
  return decode(encode(value)) as T;
}

function assertRoundTrips(value: unknown): void {
  assert.deepStrictEqual(roundTrip(value), value);
}

describe("codec: plain JSON fast path", () => {
  it("writes JSON-safe values exactly as JSON.stringify does", () => {
    for (const value of [0, 1.5, -3, "", "héllo \u{1F600}", true, false, null, [], {}, [1, "a", null, [true]], { a: { b: [1, 2] } }]) {
      assert.equal(encode(value), JSON.stringify(value));
      assert.equal(isPlainJsonSafe(value), true);
      assert.deepStrictEqual(decode(encode(value)), value);
    }
  });

  it("uses the tagged form for everything JSON would change", () => {
    const shared = { x: 1 };
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const notPlain: unknown[] = [NaN, Infinity, -0, undefined, 1n, [undefined], [1, , 2], { a: undefined },
      Object.create(null), new Date(0), new Map(), [shared, shared], cyclic, { a: () => 1 }];
    notPlain.forEach((value, i) => assert.equal(isPlainJsonSafe(value), false, `case ${i}`));
    assert.ok(encode(1n).startsWith("~v1:"));
  });

  it("keeps strings that look like the tagged format as strings", () => {
    for (const value of ["~v1:[\"u\"]", { "~v1:": "~v1:" }, ["~v1:", ["u"]], { $ref: 0 }]) {
      assert.equal(encode(value), JSON.stringify(value));
      assertRoundTrips(value);
    }
  });

  it("ignores symbol-keyed properties, as JSON and structuredClone do", () => {
    const value = { a: 1, [Symbol("private")]: 2 };
    assert.equal(encode(value), '{"a":1}');
    assert.deepStrictEqual(decode(encode({ ...value, b: 1n })), { a: 1, b: 1n });
  });

  it("sends what getters return and drops non-enumerable properties", () => {
    const value = Object.defineProperty({ get a() { return 2; } }, "hidden", { value: 3, enumerable: false });
    assert.deepStrictEqual(roundTrip(value), { a: 2 });
  });
});

describe("codec: primitives", () => {
  it("round-trips every number, including NaN, the infinities and -0", () => {
    for (const n of [0, -0, 1, -1.5, Number.MAX_VALUE, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER, NaN, Infinity, -Infinity]) {
      assert.ok(Object.is(roundTrip(n), n), String(n));
    }
  });

  it("round-trips strings with lone surrogates and control characters", () => {
    for (const s of ["", "\ud800", "a\udc00b", "\u0000\n\t\"\\", "~v1:"]) assert.equal(roundTrip(s), s);
  });

  it("round-trips booleans, null, undefined and bigints", () => {
    for (const v of [true, false, null, undefined, 0n, -5n, 2n ** 200n, -(2n ** 64n)]) assert.equal(roundTrip(v), v);
  });
});

describe("codec: arrays and objects", () => {
  it("round-trips nested arrays with undefined items", () => {
    assertRoundTrips([1, [undefined, [null, "x"]], undefined]);
  });

  it("keeps holes in sparse arrays, including trailing ones", () => {
    const sparse = [1, , , 4, , ,];
    const back = roundTrip(sparse);
    assert.equal(back.length, 6);
    assert.deepStrictEqual(Object.keys(back), ["0", "3"]);
    assert.deepStrictEqual(back, sparse);
    assert.deepStrictEqual(roundTrip(new Array(3)), new Array(3));
  });

  it("round-trips objects with undefined values and odd keys", () => {
    assertRoundTrips({ a: undefined, "a b": 1, "": 2, 0: 3, "-1": 4, constructor: 5, toString: 6 });
  });

  it("round-trips null-prototype objects, nested ones included", () => {
    const value = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, inner: Object.create(null) });
    const back = roundTrip(value);
    assert.equal(Object.getPrototypeOf(back), null);
    assert.equal(Object.getPrototypeOf(back.inner), null);
    assert.deepStrictEqual(back, value);
  });

  for (const [name, extra] of [["plain", 1], ["tagged", 1n]] as const) {
    it(`keeps "__proto__" an ordinary key and never touches prototypes (${name} path)`, () => {
      const text = `{"__proto__":{"polluted":true},"x":${name === "plain" ? "1" : '["b","1"]'}}`;
      const value = JSON.parse(text) as Record<string, unknown>;
      value.x = extra;
      const encoded = encode(value);
      const back = decode(encoded) as Record<string, unknown>;
      assert.equal(Object.getPrototypeOf(back), Object.prototype);
      assert.deepStrictEqual(Object.keys(back), ["__proto__", "x"]);
      assert.deepStrictEqual(Object.getOwnPropertyDescriptor(back, "__proto__")?.value, { polluted: true });
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(back.polluted, undefined);
    });
  }

  it("keeps a '__proto__' key of a null-prototype object and of an Error", () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare["__proto__"] = { p: 1 };
    const backBare = roundTrip(bare);
    assert.equal(Object.getPrototypeOf(backBare), null);
    assert.deepStrictEqual(Object.keys(backBare), ["__proto__"]);
    const error = new Error("e");
    Object.defineProperty(error, "__proto__", { value: 1, enumerable: true, writable: true, configurable: true });
    const backError = roundTrip(error);
    assert.equal(Object.getPrototypeOf(backError), Error.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(backError, "__proto__")?.value, 1);
  });
});

describe("codec: built-in classes", () => {
  it("round-trips Maps with any keys, and Sets", () => {
    const objectKey = { k: 1 };
    const map = new Map<unknown, unknown>([["a", 1], [2, [3]], [objectKey, new Set([1, "x", 2n])], [NaN, undefined]]);
    const back = roundTrip(map);
    assert.ok(back instanceof Map);
    assert.deepStrictEqual(back, map);
    assert.deepStrictEqual([...back.keys()], ["a", 2, { k: 1 }, NaN]);
  });

  it("round-trips Dates, invalid ones included", () => {
    assertRoundTrips(new Date("2024-02-29T12:34:56.789Z"));
    assertRoundTrips(new Date(-8.64e15));
    const invalid = roundTrip(new Date(NaN));
    assert.ok(invalid instanceof Date);
    assert.ok(Number.isNaN(invalid.getTime()));
  });

  it("round-trips RegExps with their flags and lastIndex", () => {
    assertRoundTrips(/a+(?<name>b)\//giu);
    const sticky = /x/y;
    sticky.lastIndex = 3;
    const back = roundTrip(sticky);
    assert.equal(back.lastIndex, 3);
    assert.equal(back.flags, "y");
    const odd = /x/g;
    odd.lastIndex = -2.5;
    assert.equal(roundTrip(odd).lastIndex, 0);
  });

  it("round-trips every typed array kind", () => {
    const arrays = [
      new Int8Array([-128, 0, 127]), new Uint8Array([0, 255]), new Uint8ClampedArray([0, 255]),
      new Int16Array([-32768, 32767]), new Uint16Array([65535]), new Int32Array([-(2 ** 31), 2 ** 31 - 1]),
      new Uint32Array([2 ** 32 - 1]), new Float32Array([1.5, NaN, -0]), new Float64Array([Math.PI, -Infinity, NaN]),
      new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]), new BigUint64Array([2n ** 64n - 1n]), new Float64Array(0),
    ];
    for (const array of arrays) {
      const back = roundTrip(array);
      assert.equal(Object.getPrototypeOf(back), Object.getPrototypeOf(array));
      assert.deepStrictEqual(back, array);
    }
  });

  it("sends only the bytes a view covers", () => {
    const whole = new Float64Array([1, 2, 3, 4]);
    const view = whole.subarray(1, 3);
    const back = roundTrip(view);
    assert.deepStrictEqual([...back], [2, 3]);
    assert.equal(back.buffer.byteLength, 16);
    const dataView = new DataView(new Uint8Array([9, 1, 2, 9]).buffer, 1, 2);
    assert.deepStrictEqual(new Uint8Array(roundTrip(dataView).buffer), new Uint8Array([1, 2]));
  });

  it("round-trips large binary values", () => {
    const big = Buffer.alloc(16 * 1024 * 1024, 0xa5);
    big[big.length - 1] = 1;
    const back = roundTrip({ big });
    assert.ok(back.big.equals(big));
  });

  it("round-trips ArrayBuffers and DataViews", () => {
    assertRoundTrips(new Uint8Array([1, 2, 3]).buffer);
    assertRoundTrips(new ArrayBuffer(0));
    assertRoundTrips(new DataView(new Uint8Array([4, 5]).buffer));
  });

  it("decodes a Buffer as a Buffer that owns its memory", () => {
    const pooled = Buffer.from("hello"); // a slice of Node's shared pool
    const back = roundTrip(pooled);
    assert.ok(Buffer.isBuffer(back));
    assert.equal(Object.getPrototypeOf(back), Buffer.prototype);
    assert.equal(back.toString(), "hello");
    assert.equal(back.byteOffset, 0);
    assert.equal(back.buffer.byteLength, 5);
    assert.ok(!Buffer.isBuffer(roundTrip(new Uint8Array([1]))));
  });
});

describe("codec: errors", () => {
  it("round-trips each standard Error class with name, message, stack and cause", () => {
    for (const Class of [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError]) {
      const error = new Class("went wrong", { cause: new Error("root") });
      const back = roundTrip(error);
      assert.equal(Object.getPrototypeOf(back), Class.prototype);
      assert.ok(types.isNativeError(back));
      assert.equal(back.name, Class.name);
      assert.equal(back.message, "went wrong");
      assert.equal(back.stack, error.stack);
      assert.equal((back.cause as Error).message, "root");
      assert.deepStrictEqual(back, error);
    }
  });

  it("keeps own enumerable properties such as code, and a reassigned name", () => {
    const error = Object.assign(new Error("no such file"), { code: "ENOENT", errno: -2, path: "/x" });
    error.name = "FsError";
    const back = roundTrip(error);
    assert.equal(back.name, "FsError");
    assert.equal((back as unknown as { code: string }).code, "ENOENT");
    assert.deepStrictEqual(Object.keys(back), Object.keys(error));
    assert.deepStrictEqual(back, error);
  });

  it("keeps which fields are own: no message, no stack, no cause", () => {
    const error = new Error();
    delete (error as { stack?: string }).stack;
    const back = roundTrip(error);
    assert.equal(Object.hasOwn(back, "message"), false);
    assert.equal(Object.hasOwn(back, "stack"), false);
    assert.equal(Object.hasOwn(back, "cause"), false);
    const withUndefinedCause = roundTrip(new Error("x", { cause: undefined }));
    assert.equal(Object.hasOwn(withUndefinedCause, "cause"), true);
  });

  it("round-trips AggregateError with its errors", () => {
    const error = new AggregateError([new TypeError("a"), 42], "several");
    const back = roundTrip(error);
    assert.ok(back instanceof AggregateError);
    assert.deepStrictEqual(back.errors, error.errors);
    assert.deepStrictEqual(back, error);
  });
});

describe("codec: shared and cyclic references", () => {
  it("decodes an object referenced twice as one object", () => {
    const shared = { n: 1 };
    const back = roundTrip({ a: shared, b: [shared], c: new Map([[shared, shared]]) });
    assert.equal(back.a, back.b[0]);
    assert.equal(back.a, [...back.c.keys()][0]);
    assert.equal(back.a, [...back.c.values()][0]);
  });

  it("keeps shared binary values and errors shared", () => {
    const buffer = Buffer.from("x");
    const error = new Error("e");
    const back = roundTrip([buffer, error, buffer, error, { error }] as const);
    assert.equal(back[0], back[2]);
    assert.equal(back[1], back[3]);
    assert.equal(back[1], back[4].error);
  });

  it("rebuilds cycles through objects, arrays, Maps, Sets and Error causes", () => {
    const object: Record<string, unknown> = { name: "root" };
    object.self = object;
    const array: unknown[] = [1];
    array.push(array);
    const map = new Map<string, unknown>();
    map.set("me", map);
    const set = new Set<unknown>();
    set.add(set);
    const error = new Error("loop");
    error.cause = error;
    const back = roundTrip({ object, array, map, set, error });
    assert.equal(back.object.self, back.object);
    assert.equal(back.array[1], back.array);
    assert.equal(back.map.get("me"), back.map);
    assert.ok(back.set.has(back.set));
    assert.equal(back.error.cause, back.error);
  });

  it("numbers references correctly when a Proxy lists keys in an unusual order", () => {
    const shared = { s: 1 };
    const target = { 1: shared, b: shared };
    const proxy = new Proxy(target, { ownKeys: () => ["b", "1"] });
    const back = roundTrip({ p: proxy, after: shared });
    assert.equal(back.p[1], back.p.b);
    assert.equal(back.after, back.p.b);
  });
});
