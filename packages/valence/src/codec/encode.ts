import { UnsendableValueError } from "../errors.js";
import { toBase64 } from "./binary.js";
import * as F from "./format.js";
import { classify, errorClassName } from "./kinds.js";
import { PathSteps, isPrintableMapKey } from "./paths.js";
import { isPlainJsonSafe } from "./plain.js";

/**
 * Encodes a value into the text that crosses a process boundary (to a worker,
 * the store, a remote host); `decode` turns it back into an equal value, with
 * shared and cyclic references intact. JSON-safe values come out as plain JSON
 * at JSON's speed; anything else uses the tagged form described in `format.ts`.
 * Refuses what cannot be rebuilt elsewhere (functions, symbols, class
 * instances, promises, …) with an `UnsendableValueError` whose path starts at
 * `path` and names the first such value met.
 *
 * @example
 * encode({ x: 1 });                  // '{"x":1}'
 * encode([1n], "args");              // '~v1:["A",["b","1"]]'
 * encode([1, { f: () => 0 }], "args"); // throws: args[1].f: functions cannot be sent to a task
 */
export function encode(value: unknown, path = "value"): string {
  try {
    if (isPlainJsonSafe(value)) return JSON.stringify(value);
    return F.TAGGED_PREFIX + JSON.stringify(new TaggedEncoder(path).value(value));
  } catch (error) {
    // Stack overflow on very deep values, or a result past V8's string limit.
    if (error instanceof RangeError) {
      throw new UnsendableValueError(path, `cannot be encoded: it is nested too deeply or is too large (${error.message})`);
    }
    throw error;
  }
}

type Fields = Record<string, unknown>;

class TaggedEncoder {
  private readonly ids = new Map<object, number>();
  private readonly steps = new PathSteps();

  constructor(private readonly root: string) {}

  value(value: unknown): unknown {
    switch (typeof value) {
      case "string":
      case "boolean":
        return value;
      case "number":
        if (Number.isFinite(value) && (value !== 0 || 1 / value > 0)) return value;
        return [F.NUMBER, Object.is(value, -0) ? "-0" : String(value)];
      case "bigint":
        return [F.BIGINT, value.toString()];
      case "undefined":
        return [F.UNDEFINED];
      case "object":
        return value === null ? null : this.object(value);
      case "function":
        throw this.refuse("functions cannot be sent to a task");
      case "symbol":
        throw this.refuse("symbols cannot be sent to a task");
      default:
        throw this.refuse(`values of type ${typeof value} cannot be sent to a task`);
    }
  }

  private object(value: object): unknown {
    const seen = this.ids.get(value);
    if (seen !== undefined) return [F.REF, seen];
    const classified = classify(value);
    if ("refusal" in classified) throw this.refuse(classified.refusal);
    this.ids.set(value, this.ids.size);
    switch (classified.kind) {
      case "object":
        return this.fields(value);
      case "null-proto-object":
        return [F.NULL_PROTO_OBJECT, this.fields(value)];
      case "array":
        return this.array(value as unknown[]);
      case "map":
        return this.map(value as Map<unknown, unknown>);
      case "set":
        return this.set(value as Set<unknown>);
      case "date": {
        const time = (value as Date).getTime();
        return [F.DATE, Number.isNaN(time) ? null : time];
      }
      case "regexp": {
        const { source, flags, lastIndex } = value as RegExp;
        return typeof lastIndex === "number" && lastIndex !== 0
          ? [F.REGEXP, source, flags, lastIndex]
          : [F.REGEXP, source, flags];
      }
      case "error":
        return this.error(value as Error);
      case "buffer":
        return [F.BUFFER, toBase64(value as Uint8Array)];
      case "typed-array":
        // The toStringTag getter reads the engine's internal name; `constructor` is writable.
        return [F.TYPED_ARRAY, (value as Uint8Array)[Symbol.toStringTag] as string, toBase64(value as Uint8Array)];
      case "array-buffer":
        return [F.ARRAY_BUFFER, toBase64(value as ArrayBuffer)];
      case "data-view":
        return [F.DATA_VIEW, toBase64(value as DataView)];
      default: {
        const unknownKind: never = classified.kind;
        throw new Error(`codec: unhandled kind ${String(unknownKind)}`);
      }
    }
  }

  /** Own enumerable string-keyed properties; an enumerable symbol key is refused, since it would vanish. */
  private fields(value: object): Fields {
    for (const symbol of Object.getOwnPropertySymbols(value)) {
      if (!Object.prototype.propertyIsEnumerable.call(value, symbol)) continue;
      this.steps.push("symbol", symbol);
      throw this.refuse("symbol-keyed properties cannot be sent to a task; use a string key");
    }
    // Null prototype: a "__proto__" key stays an ordinary key instead of hitting the setter.
    const out: Fields = Object.create(null) as Fields;
    const source = value as Fields;
    for (const key of Object.keys(source)) out[key] = undefined;
    // Walk in `out`'s key order, which is the order JSON.stringify writes and the decoder
    // numbers references in; a Proxy's ownKeys may list keys in another order.
    for (const key in out) {
      this.steps.push("prop", key);
      out[key] = this.value(source[key]);
      this.steps.pop();
    }
    return out;
  }

  private array(items: unknown[]): unknown[] {
    const out: unknown[] = [F.ARRAY];
    let holes = 0;
    for (let i = 0; i < items.length; i++) {
      if (!(i in items)) {
        holes++;
        continue;
      }
      if (holes !== 0) {
        out.push([F.HOLES, holes]);
        holes = 0;
      }
      this.steps.push("index", i);
      out.push(this.value(items[i]));
      this.steps.pop();
    }
    if (holes !== 0) out.push([F.HOLES, holes]);
    return out;
  }

  private map(map: Map<unknown, unknown>): unknown[] {
    const out: unknown[] = [F.MAP];
    let i = 0;
    for (const [key, item] of map) {
      this.steps.push("key", i);
      out.push(this.value(key));
      this.steps.pop();
      if (isPrintableMapKey(key)) this.steps.push("get", key);
      else this.steps.push("value", i);
      out.push(this.value(item));
      this.steps.pop();
      i++;
    }
    return out;
  }

  private set(set: Set<unknown>): unknown[] {
    const out: unknown[] = [F.SET];
    let i = 0;
    for (const item of set) {
      this.steps.push("value", i++);
      out.push(this.value(item));
      this.steps.pop();
    }
    return out;
  }

  private error(error: Error): unknown[] {
    const hidden: Fields = Object.create(null) as Fields;
    for (const field of F.ERROR_HIDDEN_FIELDS) {
      const descriptor = Object.getOwnPropertyDescriptor(error, field);
      if (descriptor === undefined || descriptor.enumerable) continue;
      this.steps.push("prop", field);
      // Some engines define `stack` as an accessor; reading through the object covers both.
      hidden[field] = this.value((error as unknown as Fields)[field]);
      this.steps.pop();
    }
    return [F.ERROR, errorClassName(error), hidden, this.fields(error)];
  }

  private refuse(reason: string): UnsendableValueError {
    return new UnsendableValueError(this.steps.format(this.root), reason);
  }
}
