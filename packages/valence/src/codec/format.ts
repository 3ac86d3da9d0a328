/**
 * The wire format, in one place so encoder and decoder cannot drift apart.
 *
 * An encoded value is one of two things, told apart by the first character:
 *
 * - **Plain**: ordinary JSON text, exactly `JSON.stringify(value)`. Used when the
 *   value is JSON-safe and round-trips through JSON unchanged (see `plain.ts`),
 *   which is the common case on the scheduler's hot path. JSON text never starts
 *   with `~`.
 * - **Tagged**: `~v1:` followed by JSON in which
 *   - strings, booleans, null and finite numbers other than -0 stand for themselves;
 *   - a JSON object is a plain object (prototype `Object.prototype`), its keys
 *     taken verbatim and its values encoded by these same rules;
 *   - a JSON array is always a tagged node `[tag, ...fields]`, so user arrays,
 *     user objects and user strings never need escaping.
 *
 * Every object-like node (arrays, objects, maps, dates, errors, typed arrays, …)
 * gets the next integer id, in document order, when it is first met; meeting the
 * same object again emits `["r", id]`. That one rule carries shared references
 * and cycles. Decoders must register each object before decoding its children,
 * in the same order, so ids line up.
 */
export const TAGGED_PREFIX = "~v1:";
/** `~`: the first character of every tagged text, never of JSON text. */
export const TAGGED_FIRST_CHAR = 0x7e;

/** `["u"]` */
export const UNDEFINED = "u";
/** `["n", "NaN" | "Infinity" | "-Infinity" | "-0"]` */
export const NUMBER = "n";
/** `["b", decimal digits]` */
export const BIGINT = "b";
/** `["r", id]`: the object first met with that id. */
export const REF = "r";
/** `["A", ...items]`; inside it, `["h", count]` is a run of `count` holes. */
export const ARRAY = "A";
export const HOLES = "h";
/** `["N", { key: value }]`: an object whose prototype is null. */
export const NULL_PROTO_OBJECT = "N";
/** `["M", key0, value0, key1, value1, ...]` */
export const MAP = "M";
/** `["S", ...items]` */
export const SET = "S";
/** `["D", epoch ms]`, or `["D", null]` for an invalid Date. */
export const DATE = "D";
/** `["R", source, flags]`, plus lastIndex as a fourth field when it is not 0. */
export const REGEXP = "R";
/**
 * `["E", constructor name, hidden, props]`: `hidden` holds the own non-enumerable
 * fields the engine sets (name, message, stack, cause, errors), `props` every own
 * enumerable property (`code`, …); values in both are encoded by these rules.
 */
export const ERROR = "E";
/** `["B", base64]`: a Node Buffer. */
export const BUFFER = "B";
/** `["T", constructor name, base64 of the view's bytes]` */
export const TYPED_ARRAY = "T";
/** `["AB", base64]` */
export const ARRAY_BUFFER = "AB";
/** `["DV", base64 of the view's bytes]` */
export const DATA_VIEW = "DV";

/** The own non-enumerable Error fields that travel; others are engine internals. */
export const ERROR_HIDDEN_FIELDS: readonly string[] = ["name", "message", "stack", "cause", "errors"];
