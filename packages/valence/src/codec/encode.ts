import { types } from "node:util";
import { UnsendableValueError } from "../errors.js";
import { toBase64 } from "./binary.js";
import * as F from "./format.js";
import { Refusal, classify, errorClassName } from "./kinds.js";
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
    }
  }

  private object(value: object): unknown {
    const seen = this.ids.get(value);
    if (seen !== undefined) return [F.REF, seen];
    const kind = classify(value);
    if (kind instanceof Refusal) throw this.refuse(kind.reason);
    this.ids.set(value, this.ids.size);
    switch (kind) {
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
        // exec() reads lastIndex as a length, so only a positive integer means anything.
        return Number.isSafeInteger(lastIndex) && lastIndex > 0
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
        const unknownKind: never = kind;
        throw new Error(`codec: unhandled kind ${String(unknownKind)}`);
      }
    }
  }

  /** Own enumerable string-keyed properties; symbol keys are skipped, as `isPlainJsonSafe` explains. */
  private fields(value: object): Fields {
    const source = value as Fields;
    const out: Fields = {};
    for (const key of keyOrder(source)) {
      this.steps.push("prop", key);
      const item = this.value(source[key]);
      this.steps.pop();
      // Assigning "__proto__" would call Object.prototype's setter instead of adding a key.
      if (key === "__proto__") {
        Object.defineProperty(out, key, { value: item, writable: true, enumerable: true, configurable: true });
      } else {
        out[key] = item;
      }
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
    const hidden: Fields = {};
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

/**
 * Keys in the order JSON.stringify will write them, which is the order the
 * decoder numbers references in. Object.keys gives that order for every
 * ordinary object; a Proxy's ownKeys trap may not, so it is normalised.
 */
function keyOrder(value: Fields): string[] {
  const keys = Object.keys(value);
  if (!types.isProxy(value)) return keys;
  return Object.keys(Object.fromEntries(keys.map((key) => [key, 0])));
}
