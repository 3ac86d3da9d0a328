import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ensureInstalled, s3rverEntry } from "./install.js";
import { listenOnFreePort } from "./listen-on-free-port.js";
import { spawnService } from "./processes.js";
import type { StartOptions } from "./start-options.js";

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
  const { proc, port } = await listenOnFreePort({
    component: "s3",
    name: "s3rver",
    addressInUse: /EADDRINUSE/,
    timeoutMs: 15_000,
    async spawn(port) {
      const logFile = join(base, "s3rver.log");
      const proc = spawnService({
        name: "s3rver",
        command: process.execPath,
        args: [entry, "--directory", data, "--address", "127.0.0.1", "--port", String(port), "--configure-bucket", bucket, "--allow-mismatched-signatures", "--no-vhost-buckets"],
        logFile,
        detached: options.detached ?? false,
      });
      return { proc, logFile };
    },
  });
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
