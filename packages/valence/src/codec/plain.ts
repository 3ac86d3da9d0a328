/**
 * Tells whether `value` survives `JSON.parse(JSON.stringify(value))` unchanged,
 * so `encode` can hand it straight to the engine's JSON (the hot path: a
 * scheduler passes tens of thousands of small numbers, strings and records).
 * True for strings, booleans, null, finite numbers other than -0, arrays
 * without holes or `undefined`, and objects whose prototype is `Object.prototype`
 * built only of such values and holding no object twice (JSON would split a
 * shared reference into copies, and loop forever on a cycle). Symbol-keyed
 * properties are ignored here as on every path of the codec (and by JSON and
 * structuredClone): libraries hang private markers on objects that way.
 *
 * @example
 * isPlainJsonSafe({ a: [1, "x", null] }); // true
 * isPlainJsonSafe({ a: 1n });             // false: needs the tagged form
 */
export function isPlainJsonSafe(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return isPlainLeaf(value);
  return isPlainTree(value, new Seen());
}

function isPlainLeaf(value: unknown): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      // JSON writes NaN and ±Infinity as null and -0 as 0.
      return Number.isFinite(value) && (value !== 0 || 1 / value > 0);
    case "object":
      return value === null;
    default:
      return false;
  }
}

function isPlainTree(node: object, seen: Seen): boolean {
  if (!seen.add(node)) return false;
  const proto = Object.getPrototypeOf(node);
  if (proto === Array.prototype) {
    const items = node as unknown[];
    // A hole reads as undefined, so this one test also rejects sparse arrays.
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (typeof item === "object" && item !== null) {
        if (!isPlainTree(item, seen)) return false;
      } else if (!isPlainLeaf(item)) return false;
    }
    return true;
  }
  if (proto !== Object.prototype) return false;
  const record = node as Record<string, unknown>;
  // for-in walks V8's enum cache without allocating a key array; on a plain object it
  // meets only own keys, unless Object.prototype is polluted, which just costs the fast path.
  for (const key in record) {
    const item = record[key];
    if (typeof item === "object" && item !== null) {
      if (!isPlainTree(item, seen)) return false;
    } else if (!isPlainLeaf(item)) return false;
  }
  return true;
}

/**
 * The objects met so far. Most values on the hot path hold a handful of objects,
 * for which scanning a short array beats creating and hashing into a Set.
 */
class Seen {
  private few: object[] = [];
  private many: Set<object> | undefined;

  /** Adds `node`; false when it was already there. */
  add(node: object): boolean {
    if (this.many !== undefined) {
      if (this.many.has(node)) return false;
      this.many.add(node);
      return true;
    }
    if (this.few.includes(node)) return false;
    this.few.push(node);
    if (this.few.length === 16) this.many = new Set(this.few);
    return true;
  }
}
