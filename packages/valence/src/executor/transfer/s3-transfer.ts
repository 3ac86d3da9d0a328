/**
 * S3 and S3-compatible object stores (MinIO, Ceph, R2, …) with the official
 * AWS SDK: GetObject's body streams into a temp file renamed over the target;
 * uploads go through lib-storage's `Upload`, a multipart upload that reads
 * the file one part at a time, so memory stays near partSize × queueSize
 * whatever the file's size.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { TransferError, TransferSourceMissingError } from "../../errors.js";
import { localSize } from "./local-file.js";
import type { TransferStrategy } from "./strategy.js";

export interface S3TransferOptions {
  /** An S3-compatible server's URL, e.g. `http://127.0.0.1:9000`; AWS's own endpoint when left out. */
  readonly endpoint?: string;
  /** Default: `AWS_REGION`, else `us-east-1`. */
  readonly region?: string;
  /** `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`; default true when `endpoint` is given (what most S3-compatible servers want). */
  readonly forcePathStyle?: boolean;
  /** Default: the SDK's chain where the task runs (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, instance roles). Masked in every message. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** Bytes per multipart upload part (default 8 MiB; S3's minimum is 5 MiB). */
  readonly partSize?: number;
  /** Parts uploaded at once (default 4). */
  readonly queueSize?: number;
  /** Anything else for the S3Client (retries, a request handler, checksums). */
  readonly clientConfig?: Omit<S3ClientConfig, "credentials" | "endpoint" | "region" | "forcePathStyle">;
}

/** `s3://bucket/key`; bucket names are kept as written (URL parsing would lowercase them). */
const ADDRESS = /^s3:\/\/([^/\s]+)\/(.+)$/;
const MIN_PART = 5 * 1024 * 1024;
/** What S3 says when the source of a download is not there. */
const MISSING = new Set(["NoSuchKey", "NoSuchBucket", "NotFound"]);

/**
 * @example
 *   const store = new S3Transfer({ endpoint: "http://127.0.0.1:9000", credentials: { accessKeyId: "…", secretAccessKey: "…" } });
 *   FileTransfer("s3://data/in.csv", "in.csv", { strategy: store });
 *   FileTransfer("out.csv", "s3://data/out.csv", { order: "after", strategy: store });
 */
export class S3Transfer implements TransferStrategy {
  readonly name = "s3";
  // Private fields: the secret stays out of console.log, JSON and the codec.
  readonly #options: S3TransferOptions;
  #client: Promise<S3Client> | undefined;

  constructor(options: S3TransferOptions = {}) {
    if (options.partSize !== undefined && !(Number.isInteger(options.partSize) && options.partSize >= MIN_PART)) {
      throw new TypeError(`S3Transfer: partSize must be an integer of at least ${MIN_PART} bytes (5 MiB), got ${JSON.stringify(options.partSize)}`);
    }
    if (options.queueSize !== undefined && !(Number.isInteger(options.queueSize) && options.queueSize >= 1)) {
      throw new TypeError(`S3Transfer: queueSize must be a positive integer, got ${JSON.stringify(options.queueSize)}`);
    }
    if (options.endpoint !== undefined) {
      try {
        new URL(options.endpoint);
      } catch {
        throw new TypeError(`S3Transfer: endpoint ${JSON.stringify(options.endpoint)} is not a URL (write http://host:port)`);
      }
    }
    if (options.credentials !== undefined && !(options.credentials.accessKeyId && options.credentials.secretAccessKey)) {
      throw new TypeError(`S3Transfer: credentials need both accessKeyId and secretAccessKey`);
    }
    this.#options = { ...options };
  }

  validate(address: string): void {
    parseS3Address(address);
  }

  secrets(): readonly string[] {
    const c = this.#options.credentials;
    const env = process.env;
    return [c?.secretAccessKey, c?.sessionToken, env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]].filter((s): s is string => !!s);
  }

  async download(from: string, toPath: string): Promise<void> {
    const { Bucket, Key } = parseS3Address(from);
    const { GetObjectCommand } = await import("@aws-sdk/client-s3");
    const client = await this.#getClient();
    let body: Readable;
    try {
      const response = await client.send(new GetObjectCommand({ Bucket, Key }));
      body = response.Body as Readable;
    } catch (error) {
      throw this.#failure(`GetObject ${from}`, from, error, "download");
    }
    const tmp = `${toPath}.${randomBytes(6).toString("hex")}.part`;
    try {
      await pipeline(body, createWriteStream(tmp));
      await rename(tmp, toPath);
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
  }

  async upload(fromPath: string, to: string): Promise<void> {
    const { Bucket, Key } = parseS3Address(to);
    await localSize(fromPath, this.name);
    const { Upload } = await import("@aws-sdk/lib-storage");
    const upload = new Upload({
      client: await this.#getClient(),
      params: { Bucket, Key, Body: createReadStream(fromPath) },
      partSize: this.#options.partSize ?? 8 * 1024 * 1024,
      queueSize: this.#options.queueSize ?? 4,
    });
    try {
      await upload.done();
    } catch (error) {
      throw this.#failure(`upload to ${to}`, to, error, "upload");
    }
  }

  #getClient(): Promise<S3Client> {
    this.#client ??= import("@aws-sdk/client-s3").then(({ S3Client }) => {
      const o = this.#options;
      return new S3Client({
        ...o.clientConfig,
        region: o.region ?? process.env["AWS_REGION"] ?? "us-east-1",
        ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
        forcePathStyle: o.forcePathStyle ?? o.endpoint !== undefined,
        ...(o.credentials === undefined ? {} : { credentials: { ...o.credentials } }),
      });
    });
    return this.#client;
  }

  /** The SDK's error as ours: its name and HTTP status say what happened (its message can be empty). */
  #failure(what: string, address: string, error: unknown, direction: "download" | "upload"): TransferError {
    const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    const detail = [e.name, status === undefined ? undefined : `HTTP ${status}`, e.message].filter(Boolean).join(", ");
    const missing = direction === "download" && (MISSING.has(e.name ?? "") || status === 404);
    const Kind = missing ? TransferSourceMissingError : TransferError;
    return new Kind(`${what} failed: ${detail}`, this.name, address);
  }
}

function parseS3Address(address: string): { Bucket: string; Key: string } {
  const m = ADDRESS.exec(address);
  if (!m) throw new TypeError(`${JSON.stringify(address)} is not an S3 address (write s3://bucket/key)`);
  return { Bucket: m[1]!, Key: m[2]! };
}
