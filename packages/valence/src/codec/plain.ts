/**
 * Tells whether `value` survives `JSON.parse(JSON.stringify(value))` unchanged,
 * so `encode` can hand it straight to the engine's JSON (the hot path: a
 * scheduler passes tens of thousands of small numbers, strings and records).
 * True for strings, booleans, null, finite numbers other than -0, arrays
 * without holes or `undefined`, and objects whose prototype is `Object.prototype`
 * with no symbol keys, built only of such values and holding no object twice
 * (JSON would split a shared reference into copies, and loop forever on a cycle).
 *
 * @example
 * isPlainJsonSafe({ a: [1, "x", null] }); // true
 * isPlainJsonSafe({ a: 1n });             // false: needs the tagged form
 */
export function isPlainJsonSafe(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return isPlainLeaf(value);
  return isPlainTree(value, new Set());
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

function isPlainTree(node: object, seen: Set<object>): boolean {
  if (seen.has(node)) return false;
  seen.add(node);
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
  if (Object.getOwnPropertySymbols(node).length !== 0) return false;
  const record = node as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const item = record[key];
    if (typeof item === "object" && item !== null) {
      if (!isPlainTree(item, seen)) return false;
    } else if (!isPlainLeaf(item)) return false;
  }
  return true;
}
