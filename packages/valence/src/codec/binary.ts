import { Buffer } from "node:buffer";
import { DecodeError } from "../errors.js";

/**
 * Base64 of exactly the bytes a view or buffer covers. A view over part of a
 * larger buffer (a pooled Buffer, a subarray) sends only its own bytes.
 */
export function toBase64(bytes: ArrayBufferView | ArrayBuffer): string {
  const buffer = ArrayBuffer.isView(bytes)
    ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : Buffer.from(bytes);
  return buffer.toString("base64");
}

// Node's base64 decoder skips characters it does not know; corrupt text must fail instead.
// No groups under a quantifier: V8 would backtrack through them and overflow the stack on
// megabytes of data. The length test supplies what the pattern leaves out.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes base64 into a fresh ArrayBuffer of its own. Fresh because Node's
 * small Buffers share one pooled slab (a receiver reading `.buffer` would see
 * unrelated bytes) and because typed arrays need their offset aligned.
 */
export function fromBase64(text: unknown): ArrayBuffer {
  if (typeof text !== "string" || text.length % 4 !== 0 || !BASE64.test(text)) {
    throw new DecodeError("malformed encoded value: binary data is not valid base64");
  }
  const decoded = Buffer.from(text, "base64");
  const out = new ArrayBuffer(decoded.length);
  new Uint8Array(out).set(decoded);
  return out;
}
