/**
 * Code bundles uploaded by clients, stored by content hash. The body is
 * streamed to a temporary file while it is hashed and counted, so a large
 * bundle never sits in memory and a wrong or oversized one never lands.
 */
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BadRequestError, PayloadTooLargeError } from "./http-errors.js";
import { bundlePathOf } from "./submissions.js";

const HASH = /^[0-9a-f]{64}$/;

export function bundleExists(dataDir: string, hash: string): boolean {
  return HASH.test(hash) && existsSync(bundlePathOf(dataDir, hash));
}

export async function receiveBundle(dataDir: string, hash: string, body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<void> {
  // The hash is the file's name: only hex digits may reach the file system.
  if (!HASH.test(hash)) throw new BadRequestError(`"${hash}" is not a bundle hash (64 lowercase hex digits, the sha256 of its contents)`);
  if (!body) throw new BadRequestError("the bundle's contents are missing (send them as the request body)");
  const dir = join(dataDir, "bundles");
  mkdirSync(dir, { recursive: true });
  const final = bundlePathOf(dataDir, hash);
  const tmp = `${final}.${process.pid}.${Date.now()}.upload`;
  const sha = createHash("sha256");
  let bytes = 0;
  try {
    await pipeline(
      Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          if (bytes > maxBytes) throw new PayloadTooLargeError(`bundle over ${maxBytes} bytes`);
          sha.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(tmp),
    );
    const actual = sha.digest("hex");
    if (actual !== hash) throw new BadRequestError(`the bundle's sha256 is ${actual}, not ${hash} as its URL says; it was not stored`);
    renameSync(tmp, final);
  } finally {
    rmSync(tmp, { force: true });
  }
}
