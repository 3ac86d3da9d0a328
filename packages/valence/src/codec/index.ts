/**
 * The one codec for every value that crosses a process boundary.
 * (Placeholder: JSON only; replaced by the full codec.)
 */
export function encode(value: unknown, _path = "value"): string {
  return JSON.stringify(value);
}
export function decode(text: string): unknown {
  return JSON.parse(text);
}
