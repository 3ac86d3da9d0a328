import { Buffer } from "node:buffer";

/**
 * What an object is, decided by its exact prototype. Matching the prototype, not
 * `instanceof`, is what refuses subclasses: a `class Registry extends Map` would
 * come back as a bare Map on the other side, losing its methods without a word.
 */
export type Kind =
  | "object"
  | "array"
  | "null-proto-object"
  | "map"
  | "set"
  | "date"
  | "regexp"
  | "error"
  | "buffer"
  | "typed-array"
  | "array-buffer"
  | "data-view";

type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/** Typed arrays by constructor name, the name the wire format carries. */
export const TYPED_ARRAYS: ReadonlyMap<string, TypedArrayConstructor> = new Map(
  [
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
  ].map((ctor): [string, TypedArrayConstructor] => [ctor.name, ctor]),
);

type ErrorConstructorLike = new (...args: never[]) => Error;

/** The standard Error classes by name, the name the wire format carries. */
export const ERROR_CLASSES: ReadonlyMap<string, ErrorConstructorLike> = new Map(
  [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError].map(
    (ctor): [string, ErrorConstructorLike] => [ctor.name, ctor],
  ),
);

const ERROR_NAME_BY_PROTOTYPE = new Map<object, string>(
  [...ERROR_CLASSES].map(([name, ctor]): [object, string] => [ctor.prototype, name]),
);

/** The standard class of an Error that `classify` accepted (read from the table, not the mutable `constructor`). */
export function errorClassName(error: Error): string {
  return ERROR_NAME_BY_PROTOTYPE.get(Object.getPrototypeOf(error) as object) ?? "Error";
}

const KIND_BY_PROTOTYPE = new Map<object, Kind>([
  [Object.prototype, "object"],
  [Array.prototype, "array"],
  [Map.prototype, "map"],
  [Set.prototype, "set"],
  [Date.prototype, "date"],
  [RegExp.prototype, "regexp"],
  [Buffer.prototype, "buffer"],
  [ArrayBuffer.prototype, "array-buffer"],
  [DataView.prototype, "data-view"],
  ...[...TYPED_ARRAYS.values()].map((ctor): [object, Kind] => [ctor.prototype, "typed-array"]),
  ...[...ERROR_CLASSES.values()].map((ctor): [object, Kind] => [ctor.prototype, "error"]),
]);

// Built-ins whose generic "instances of class X" refusal would not tell the user what to do.
const REFUSAL_BY_PROTOTYPE = new Map<object, string>([
  [WeakMap.prototype, "a WeakMap cannot be sent to a task (its entries cannot be read); use a Map"],
  [WeakSet.prototype, "a WeakSet cannot be sent to a task (its items cannot be read); use a Set"],
  [WeakRef.prototype, "a WeakRef cannot be sent to a task; send the object it refers to"],
  [Promise.prototype, "a Promise cannot be sent to a task; await it and send its result"],
  [
    SharedArrayBuffer.prototype,
    "a SharedArrayBuffer cannot be sent to a task (memory cannot be shared across processes); copy it into an ArrayBuffer",
  ],
]);

/** Why an object cannot be sent; a class so the common, accepted case allocates nothing. */
export class Refusal {
  constructor(readonly reason: string) {}
}

/** Classifies an object, or says why it cannot be sent. */
export function classify(value: object): Kind | Refusal {
  const proto: object | null = Object.getPrototypeOf(value);
  if (proto === null) return "null-proto-object";
  return KIND_BY_PROTOTYPE.get(proto) ?? new Refusal(REFUSAL_BY_PROTOTYPE.get(proto) ?? refuseInstance(value, proto));
}

function refuseInstance(value: object, proto: object): string {
  const name = className(proto);
  if (value instanceof Error) {
    return `instances of class ${name ?? "(anonymous)"} cannot be sent to a task; send a plain Error (set its name, message and code) or a plain object`;
  }
  if (name === undefined) return "instances of an anonymous class cannot be sent to a task; pass a plain object";
  if (name === "Object") {
    // Object.create(someObject): plain-looking, but the inherited fields would not travel.
    return "objects with a custom prototype cannot be sent to a task; pass a plain object";
  }
  return `instances of class ${name} cannot be sent to a task; pass a plain object`;
}

function className(proto: object): string | undefined {
  const ctor: unknown = (proto as { constructor?: unknown }).constructor;
  return typeof ctor === "function" && ctor.name !== "" ? ctor.name : undefined;
}
