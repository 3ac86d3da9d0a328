import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ensureInstalled, s3rverEntry } from "./install.js";
import { logTail } from "./log-tail.js";
import { freePort, processListens } from "./ports.js";
import { spawnService } from "./processes.js";
import { ServiceStartError } from "./service-start-error.js";
import type { StartOptions } from "./start-options.js";
import { waitUntil } from "./wait-until.js";

/** A running S3-compatible server (s3rver) on loopback with one empty bucket. */
export interface S3Server {
  /** `http://127.0.0.1:PORT`, for an S3 client's `endpoint` (path-style addressing). */
  readonly endpoint: string;
  readonly port: number;
  readonly region: "us-east-1";
  readonly bucket: string;
  /** s3rver knows one access key id, `S3RVER`. */
  readonly accessKeyId: string;
  /**
   * A secret made for this run: s3rver is started with --allow-mismatched-signatures, so it
   * takes any well-formed signature; tests use the secret to check it never reaches a message.
   */
  readonly secretAccessKey: string;
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

const ATTEMPTS = 3;

/**
 * Starts s3rver (an S3-compatible server written for node, installed by npm with this package)
 * on 127.0.0.1 at a free port, storing objects under `dir/s3`, in a process of its own so a
 * client's memory can be measured apart from the server's. Resolves once the port accepts
 * connections.
 *
 * @example
 *   const s3 = await startS3(await mkdtemp(join(tmpdir(), "t-")));
 *   new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
 *   await s3.stop();
 */
export async function startS3(dir: string, options: StartOptions & { bucket?: string } = {}): Promise<S3Server> {
  await ensureInstalled("s3");
  const entry = s3rverEntry()!;
  const base = join(dir, "s3");
  const data = join(base, "data");
  mkdirSync(data, { recursive: true });
  const bucket = options.bucket ?? "valence-test";
  let lastError: unknown;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const port = await freePort();
    const logFile = join(base, "s3rver.log");
    const proc = spawnService({
      name: "s3rver",
      command: process.execPath,
      args: [entry, "--directory", data, "--address", "127.0.0.1", "--port", String(port), "--configure-bucket", bucket, "--allow-mismatched-signatures", "--no-vhost-buckets"],
      logFile,
      detached: options.detached ?? false,
    });
    try {
      await waitUntil({
        component: "s3",
        what: `s3rver to listen on 127.0.0.1:${port}`,
        check: () => processListens(proc.pid, port),
        watch: [proc],
        timeoutMs: 15_000,
        intervalMs: 50,
      });
    } catch (e) {
      await proc.stop();
      lastError = e;
      if (/EADDRINUSE/.test(logTail(logFile))) continue;
      throw e;
    }
    return {
      endpoint: `http://127.0.0.1:${port}`,
      port,
      region: "us-east-1",
      bucket,
      accessKeyId: "S3RVER",
      secretAccessKey: `vlnc-${randomBytes(12).toString("hex")}`,
      pids: [proc.pid],
      stop: () => proc.stop(),
    };
  }
  throw lastError ?? new ServiceStartError("s3", "s3rver did not start");
}
