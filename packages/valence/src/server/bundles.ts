/**
 * Code bundles uploaded by clients, stored by content hash. The body is
 * streamed to a temporary file while it is hashed and counted
 * (`content-upload.ts`), so a large bundle never sits in memory and a wrong,
 * oversized or interrupted one never lands.
 *
 * A team server (its store has a `Cluster`) keeps every bundle in the shared
 * database as well as in its data dir: the servers of a team may be on
 * different machines, and the one that takes a dispatch over, or is asked
 * about a bundle another received, fetches it from there into its own data dir.
 */
import { randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Cluster } from "../engine/store/cluster.js";
import { receiveContent, SHA256_HEX } from "./content-upload.js";
import { bundlePathOf } from "./submissions.js";

export function bundleExists(dataDir: string, hash: string): boolean {
  return SHA256_HEX.test(hash) && existsSync(bundlePathOf(dataDir, hash));
}

export function receiveBundle(dataDir: string, hash: string, body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<void> {
  return receiveContent(bundlePathOf(dataDir, hash), hash, body, maxBytes, "bundle");
}

/** A server's bundles: its data dir's, and for a team server the team's (in the database). */
export class Bundles {
  /** Hashes the team is known to keep (bundles never change or go, so this never goes stale). */
  private readonly shared = new Set<string>();

  constructor(
    readonly dataDir: string,
    /** The team's database; undefined for a server on its own. */
    private readonly cluster: Cluster | undefined,
  ) {}

  /** Stores an upload in the data dir, then (a team server) in the database, before the upload is answered. */
  async receive(hash: string, body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<void> {
    await receiveBundle(this.dataDir, hash, body, maxBytes);
    await this.share(hash);
  }

  /**
   * Whether bundle `hash` is in this server's data dir, fetched there from the team's database
   * if another server of the team received it. False when neither has it.
   */
  async here(hash: string): Promise<boolean> {
    if (!SHA256_HEX.test(hash)) return false;
    if (existsSync(bundlePathOf(this.dataDir, hash))) return true;
    const bytes = await this.cluster?.getBundle(hash);
    if (!bytes) return false;
    writeAtomically(bundlePathOf(this.dataDir, hash), bytes);
    this.shared.add(hash);
    return true;
  }

  /**
   * Makes sure the team keeps bundle `hash`, which is in this data dir: put from its file unless
   * the database has it already. Called before a dispatch that needs it is stored, so no
   * dispatch is ever stored whose bundle the team lacks. A server on its own has nothing to do.
   */
  async share(hash: string): Promise<void> {
    if (!this.cluster || this.shared.has(hash)) return;
    if (!(await this.cluster.hasBundle(hash))) await this.cluster.putBundle(hash, createReadStream(bundlePathOf(this.dataDir, hash)));
    this.shared.add(hash);
  }
}

/** Writes `bytes` at `file` under a temporary name first: a reader never sees half of it. */
function writeAtomically(file: string, bytes: Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.fetch`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}
