/**
 * Content-addressed uploads (code bundles, large values): the body is
 * streamed to a temporary file while it is hashed and counted, so a large
 * upload never sits in memory and a wrong, oversized or interrupted one
 * never lands under its final name.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BadRequestError, PayloadTooLargeError } from "./http-errors.js";

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Stores `body` at `final` if its sha256 is `hash`; `what` names it in errors ("bundle", "value"). */
export async function receiveContent(
  final: string,
  hash: string,
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  what: string,
): Promise<void> {
  // The hash is the file's name: only hex digits may reach the file system.
  if (!SHA256_HEX.test(hash)) throw new BadRequestError(`"${hash}" is not a ${what} hash (64 lowercase hex digits, the sha256 of its contents)`);
  if (!body) throw new BadRequestError(`the ${what}'s contents are missing (send them as the request body)`);
  mkdirSync(dirname(final), { recursive: true });
  // Unique per request: two uploads of the same content at once must not share (and truncate) one file.
  const tmp = `${final}.${process.pid}.${randomBytes(6).toString("hex")}.upload`;
  const sha = createHash("sha256");
  let bytes = 0;
  const out = createWriteStream(tmp);
  try {
    await pipeline(
      Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          if (bytes > maxBytes) throw new PayloadTooLargeError(`${what} over ${maxBytes} bytes`);
          sha.update(chunk);
          yield chunk;
        }
      },
      out,
    );
    const actual = sha.digest("hex");
    if (actual !== hash) throw new BadRequestError(`the ${what}'s sha256 is ${actual}, not ${hash} as its URL says; it was not stored`);
    renameSync(tmp, final);
  } finally {
    // The stream opens its file asynchronously: on an early failure (too large, client gone) the
    // open may still be under way, and would create the file after a removal made now.
    if (!out.closed) await new Promise<void>((resolve) => out.once("close", () => resolve()));
    rmSync(tmp, { force: true });
  }
}
