/**
 * The one codec for every value that crosses a process boundary: task
 * arguments and outputs on their way to workers, the store and remote hosts.
 * The wire format is described in `format.ts`; paths in errors in `paths.ts`.
 *
 * What travels: primitives (NaN, ±Infinity, -0, undefined, bigint included),
 * arrays (holes kept), plain and null-prototype objects, Map, Set, Date (invalid
 * ones too), RegExp, typed arrays, ArrayBuffer, DataView, Buffer (decoded as a
 * Buffer), the standard Error classes with name, message, stack, cause, errors
 * and own enumerable properties, and shared and cyclic references among them.
 *
 * What is left behind, as JSON and structuredClone leave it: symbol-keyed and
 * non-enumerable properties, non-index properties of arrays (a RegExp match's
 * `index`, `groups`), extra properties set on a Map, Set, Date, RegExp or binary
 * value, and the sharing of one ArrayBuffer between views (each view carries
 * its own bytes, in the host's byte order). Getters are called, maybe twice (a
 * check, then JSON), so they should be pure. Nesting is limited by the stack,
 * about as deep as JSON.stringify allows (a few thousand levels); deeper
 * values are refused with an error, not a crash.
 *
 * What is refused: functions, symbols, instances of classes (subclasses of the
 * built-ins above included, Error subclasses too), WeakMap, WeakSet, WeakRef,
 * Promise, SharedArrayBuffer, and objects from another realm (`vm` contexts).
 */
export { encode } from "./encode.js";
export { decode } from "./decode.js";
export { isPlainJsonSafe } from "./plain.js";
