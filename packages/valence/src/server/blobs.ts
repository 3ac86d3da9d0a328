/**
 * Large values sent with a dispatch (arguments over the blob threshold),
 * uploaded before it as streams and referred to by content hash: JSON
 * bodies stay small, and the same value is sent once.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BadRequestError } from "./http-errors.js";
import { receiveContent, SHA256_HEX } from "./content-upload.js";

export const blobPathOf = (dataDir: string, hash: string) => join(dataDir, "blobs", hash);

export function blobExists(dataDir: string, hash: string): boolean {
  return SHA256_HEX.test(hash) && existsSync(blobPathOf(dataDir, hash));
}

export function receiveBlob(dataDir: string, hash: string, body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<void> {
  return receiveContent(blobPathOf(dataDir, hash), hash, body, maxBytes, "value");
}

/** A referenced blob's text; `field` names the reference in the error when it was never uploaded. */
export function readBlob(dataDir: string, hash: string, field: string): string {
  if (!blobExists(dataDir, hash)) {
    throw new BadRequestError(`${field}: no value ${hash} on the server; upload it first (PUT /api/v1/blobs/${hash})`);
  }
  return readFileSync(blobPathOf(dataDir, hash), "utf8");
}
