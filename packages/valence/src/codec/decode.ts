import { Buffer } from "node:buffer";
import { DecodeError } from "../errors.js";
import { fromBase64 } from "./binary.js";
import * as F from "./format.js";
import { ERROR_CLASSES, TYPED_ARRAYS } from "./kinds.js";

/**
 * Decodes text made by `encode` back into the value, rebuilding Maps, Dates,
 * Buffers, Errors, shared references and cycles. Plain JSON text is parsed as
 * JSON. Throws `DecodeError` when the text is not something `encode` could have
 * produced (truncated, corrupt, or from a newer format version); it never
 * touches prototypes, whatever keys the text holds.
 *
 * @example
 * decode('{"x":1}');             // { x: 1 }
 * decode('~v1:["A",["b","1"]]'); // [1n]
 */
export function decode(text: string): unknown {
  if (typeof text !== "string") {
    throw new DecodeError(`cannot decode a value of type ${typeof text}; expected the string that encode() returned`);
  }
  if (text.charCodeAt(0) !== F.TAGGED_FIRST_CHAR) return parseJson(text);
  if (!text.startsWith(F.TAGGED_PREFIX)) {
    const format = /^~[^:]{0,10}:?/.exec(text)![0];
    throw new DecodeError(
      `cannot decode: unknown format "${format}" (expected "${F.TAGGED_PREFIX}"; written by a newer Valence?)`,
    );
  }
  const tree = parseJson(text.slice(F.TAGGED_PREFIX.length));
  try {
    return new TaggedDecoder().value(tree);
  } catch (error) {
    if (error instanceof RangeError) {
      throw new DecodeError(`cannot decode: the value is nested too deeply (${error.message})`, { cause: error });
    }
    throw error;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DecodeError(`malformed encoded value: not valid JSON (${reason})`, { cause: error });
  }
}

function malformed(what: string): DecodeError {
  return new DecodeError(`malformed encoded value: ${what}`);
}

type Fields = Record<string, unknown>;

function isFields(node: unknown): node is Fields {
  return typeof node === "object" && node !== null && !Array.isArray(node);
}

const SPECIAL_NUMBERS = new Map<unknown, number>([
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
  ["-0", -0],
]);

const BIGINT_DIGITS = /^-?\d+$/;
const ERROR_HIDDEN = new Set(F.ERROR_HIDDEN_FIELDS);

class TaggedDecoder {
  /** Objects by id, in the order the encoder met them (see `format.ts`). */
  private readonly refs: unknown[] = [];

  value(node: unknown): unknown {
    if (typeof node !== "object" || node === null) return node;
    if (!Array.isArray(node)) return this.fields(this.register(node as Fields), node as Fields);
    return this.tagged(node);
  }

  private register<T>(value: T): T {
    this.refs.push(value);
    return value;
  }

  /** Decodes each value of `node` into `target`; `target` may be `node` itself. */
  private fields(target: Fields, node: Fields): Fields {
    for (const key of Object.keys(node)) {
      // Assigning to an own data property never reaches a setter, so reusing the parsed
      // object is safe even for a "__proto__" key (JSON.parse made it an own key).
      if (target === node) {
        node[key] = this.value(node[key]);
        continue;
      }
      // Elsewhere define, never assign: "__proto__" would hit Object.prototype's setter.
      Object.defineProperty(target, key, {
        value: this.value(node[key]),
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
    return target;
  }

  private tagged(node: unknown[]): unknown {
    const tag = node[0];
    switch (tag) {
      case F.UNDEFINED:
        return undefined;
      case F.NUMBER: {
        const number = SPECIAL_NUMBERS.get(node[1]);
        if (number === undefined) throw malformed(`unknown special number ${JSON.stringify(node[1])}`);
        return number;
      }
      case F.BIGINT: {
        const digits = node[1];
        if (typeof digits !== "string" || !BIGINT_DIGITS.test(digits)) throw malformed("bigint is not an integer");
        return BigInt(digits);
      }
      case F.REF: {
        const id = node[1];
        if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= this.refs.length) {
          throw malformed(`reference ${JSON.stringify(id)} points at no earlier object`);
        }
        return this.refs[id];
      }
      case F.ARRAY:
        return this.array(node);
      case F.NULL_PROTO_OBJECT:
        return this.fields(this.register(Object.create(null) as Fields), this.fieldsAt(node, 1, "object"));
      case F.MAP:
        return this.map(node);
      case F.SET: {
        const set = this.register(new Set<unknown>());
        for (let i = 1; i < node.length; i++) set.add(this.value(node[i]));
        return set;
      }
      case F.DATE: {
        const time = node[1];
        if (time !== null && typeof time !== "number") throw malformed("date time is not a number");
        return this.register(new Date(time ?? NaN));
      }
      case F.REGEXP:
        return this.register(regexp(node));
      case F.ERROR:
        return this.error(node);
      case F.BUFFER:
        return this.register(Buffer.from(fromBase64(node[1])));
      case F.TYPED_ARRAY:
        return this.register(typedArray(node));
      case F.ARRAY_BUFFER:
        return this.register(fromBase64(node[1]));
      case F.DATA_VIEW:
        return this.register(new DataView(fromBase64(node[1])));
      default:
        throw malformed(`unknown tag ${JSON.stringify(tag)}`);
    }
  }

  private array(node: unknown[]): unknown[] {
    const out: unknown[] = this.register([]);
    let length = 0;
    for (let i = 1; i < node.length; i++) {
      const item = node[i];
      if (Array.isArray(item) && item[0] === F.HOLES) {
        const count = item[1];
        if (typeof count !== "number" || !Number.isInteger(count) || count < 1 || length + count > 2 ** 32 - 1) {
          throw malformed("bad run of array holes");
        }
        length += count;
      } else {
        out[length++] = this.value(item);
      }
    }
    // Trailing holes add length but no element.
    out.length = length;
    return out;
  }

  private map(node: unknown[]): Map<unknown, unknown> {
    if (node.length % 2 !== 1) throw malformed("map has a key without a value");
    const map = this.register(new Map<unknown, unknown>());
    for (let i = 1; i < node.length; i += 2) {
      const key = this.value(node[i]);
      map.set(key, this.value(node[i + 1]));
    }
    return map;
  }

  private error(node: unknown[]): Error {
    const Class = ERROR_CLASSES.get(node[1] as string) as (new (...args: unknown[]) => Error) | undefined;
    if (Class === undefined) throw malformed(`unknown error class ${JSON.stringify(node[1])}`);
    const hidden = this.fieldsAt(node, 2, "error fields");
    const props = this.fieldsAt(node, 3, "error properties");
    // A real constructor call, so the result is a native error (util.types.isNativeError);
    // then the fields it set are replaced by the sent ones.
    const error = this.register(Class === AggregateError ? new AggregateError([]) : new Class());
    for (const field of F.ERROR_HIDDEN_FIELDS) delete (error as unknown as Fields)[field];
    for (const key of Object.keys(hidden)) {
      if (!ERROR_HIDDEN.has(key)) throw malformed(`unexpected error field ${JSON.stringify(key)}`);
      Object.defineProperty(error, key, {
        value: this.value(hidden[key]),
        writable: true,
        enumerable: false,
        configurable: true,
      });
    }
    this.fields(error as unknown as Fields, props);
    return error;
  }

  private fieldsAt(node: unknown[], index: number, what: string): Fields {
    const fields = node[index];
    if (!isFields(fields)) throw malformed(`${what} are not a JSON object`);
    return fields;
  }
}

function regexp(node: unknown[]): RegExp {
  const [, source, flags, lastIndex = 0] = node;
  if (typeof source !== "string" || typeof flags !== "string") throw malformed("regexp source or flags are not strings");
  if (typeof lastIndex !== "number" || !Number.isInteger(lastIndex) || lastIndex < 0) {
    throw malformed("regexp lastIndex is not a non-negative integer");
  }
  let re: RegExp;
  try {
    re = new RegExp(source, flags);
  } catch (error) {
    throw new DecodeError(`malformed encoded value: invalid regexp (${(error as Error).message})`, { cause: error });
  }
  re.lastIndex = lastIndex;
  return re;
}

function typedArray(node: unknown[]): ArrayBufferView {
  const Class = TYPED_ARRAYS.get(node[1] as string);
  if (Class === undefined) throw malformed(`unknown typed array ${JSON.stringify(node[1])}`);
  const bytes = fromBase64(node[2]);
  if (bytes.byteLength % Class.BYTES_PER_ELEMENT !== 0) {
    throw malformed(`${Class.name} byte length ${bytes.byteLength} is not a multiple of ${Class.BYTES_PER_ELEMENT}`);
  }
  return new Class(bytes);
}
