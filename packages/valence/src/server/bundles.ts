/**
 * Code bundles uploaded by clients, stored by content hash. The body is
 * streamed to a temporary file while it is hashed and counted
 * (`content-upload.ts`), so a large bundle never sits in memory and a wrong,
 * oversized or interrupted one never lands.
 */
import { existsSync } from "node:fs";
import { receiveContent, SHA256_HEX } from "./content-upload.js";
import { bundlePathOf } from "./submissions.js";

export function bundleExists(dataDir: string, hash: string): boolean {
  return SHA256_HEX.test(hash) && existsSync(bundlePathOf(dataDir, hash));
}

export function receiveBundle(dataDir: string, hash: string, body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<void> {
  return receiveContent(bundlePathOf(dataDir, hash), hash, body, maxBytes, "bundle");
}
