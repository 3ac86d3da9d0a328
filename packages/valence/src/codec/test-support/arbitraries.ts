import { Buffer } from "node:buffer";
import fc from "fast-check";

/** Keys that have tripped serializers before: prototype names, the tagged prefix, index-like keys. */
export const trickyKey = fc.oneof(
  fc.string({ unit: "binary", maxLength: 6 }),
  fc.constantFrom("__proto__", "constructor", "prototype", "toString", "~v1:", "$ref", "0", "1", "-1", "01", "a b", ""),
);

const special = fc.constantFrom(NaN, Infinity, -Infinity, -0, undefined);

const leaf = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.double(),
  fc.integer(),
  special,
  fc.boolean(),
  fc.constant(null),
  fc.bigInt(),
);

const binary = fc.oneof(
  fc.int8Array(),
  fc.uint8Array(),
  fc.uint8ClampedArray(),
  fc.int16Array(),
  fc.uint16Array(),
  fc.int32Array(),
  fc.uint32Array(),
  fc.float32Array(),
  fc.float64Array(),
  fc.bigInt64Array(),
  fc.bigUint64Array(),
  fc.uint8Array().map((bytes) => Buffer.from(bytes)),
  fc.uint8Array().map((bytes) => bytes.slice().buffer),
  fc.uint8Array().map((bytes) => new DataView(bytes.slice().buffer)),
);

const errorClass = fc.constantFrom(Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError);

/**
 * Every kind of value the codec promises to carry, nested: the property tests'
 * stand-in for "anything a task might take or return". Dates are always valid
 * here because assert.deepStrictEqual reports two invalid Dates as different
 * (NaN !== NaN); the example tests cover invalid Dates.
 */
export const { sendable } = fc.letrec((tie) => ({
  sendable: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    binary,
    fc.date({ noInvalidDate: true }),
    fc.constantFrom(/a+b/giu, /^x$/m, /[\]/]/y),
    tie("array"),
    tie("sparse"),
    tie("object"),
    tie("map"),
    tie("set"),
    tie("error"),
  ),
  array: fc.array(tie("sendable"), { maxLength: 5 }),
  sparse: fc.sparseArray(tie("sendable"), { maxLength: 8 }),
  // dictionary also makes null-prototype objects.
  object: fc.dictionary(trickyKey, tie("sendable"), { maxKeys: 5 }),
  map: fc.array(fc.tuple(tie("sendable"), tie("sendable")), { maxLength: 4 }).map((entries) => new Map(entries)),
  set: fc.array(tie("sendable"), { maxLength: 4 }).map((items) => new Set(items)),
  error: fc
    .record({
      Class: errorClass,
      message: fc.string(),
      cause: fc.option(tie("sendable"), { nil: undefined }),
      code: fc.option(fc.string(), { nil: undefined }),
    })
    .map(({ Class, message, cause, code }) => {
      const error = cause === undefined ? new Class(message) : new Class(message, { cause });
      if (code !== undefined) Object.assign(error, { code });
      return error;
    }),
}));

/** Values that hold other values, so identity can be checked after a round trip. */
export const container = fc.oneof(
  fc.array(sendable, { maxLength: 3 }),
  fc.dictionary(trickyKey, sendable, { maxKeys: 3 }),
  fc.array(sendable, { maxLength: 3 }).map((items) => new Set(items)),
  fc.array(fc.tuple(sendable, sendable), { maxLength: 3 }).map((entries) => new Map(entries)),
  fc.uint8Array().map((bytes) => Buffer.from(bytes)),
  fc.date({ noInvalidDate: true }),
);
