/**
 * HTTP(S) transfers with node's fetch: GET streams the body into a temp file
 * that is renamed over the target (a reader never sees half a file); upload
 * streams the file as the body of a PUT (or POST) with node:http(s).
 */
import { createReadStream, createWriteStream } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { randomBytes } from "node:crypto";
import { TransferError, TransferSourceMissingError } from "../../errors.js";
import { localSize } from "./local-file.js";
import { maskCredentials } from "./mask.js";
import type { TransferStrategy } from "./strategy.js";

export interface HttpTransferOptions {
  /** Sent with every request, e.g. `{ authorization: "Bearer …" }`; values of credential headers (authorization, tokens, keys, cookies) are masked in errors. */
  readonly headers?: Readonly<Record<string, string>>;
  /** How uploads are sent: `PUT` (default; what object stores and WebDAV take) or `POST`. */
  readonly uploadMethod?: "PUT" | "POST";
}

/**
 * Downloads and uploads over HTTP(S). A URL's `user:password@` becomes a
 * Basic `Authorization` header (fetch refuses credentials in URLs), and is
 * masked in every message.
 *
 * @example
 *   FileTransfer("https://example.org/data.csv", "data.csv", { strategy: new HttpTransfer() });
 *   FileTransfer("out.csv", "https://user:pw@files.example.org/out.csv", { order: "after", strategy: new HttpTransfer() });
 */
/** Headers whose values are credentials. */
const SECRET_HEADER = /auth|token|key|secret|cookie|signature|password/i;

export class HttpTransfer implements TransferStrategy {
  readonly name = "http";
  readonly #headers: Readonly<Record<string, string>>;
  readonly #uploadMethod: "PUT" | "POST";

  constructor(options: HttpTransferOptions = {}) {
    this.#headers = { ...options.headers };
    this.#uploadMethod = options.uploadMethod ?? "PUT";
    if (this.#uploadMethod !== "PUT" && this.#uploadMethod !== "POST") {
      throw new TypeError(`HttpTransfer: uploadMethod must be "PUT" or "POST", got ${JSON.stringify(options.uploadMethod)}`);
    }
  }

  validate(address: string): void {
    parseHttpUrl(address);
  }

  secrets(): readonly string[] {
    return Object.entries(this.#headers)
      .filter(([name]) => SECRET_HEADER.test(name))
      .map(([, value]) => value);
  }

  async download(from: string, toPath: string): Promise<void> {
    const { url, headers } = this.#request(from);
    const response = await fetch(url, { headers, redirect: "follow" });
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      const Kind = response.status === 404 || response.status === 410 ? TransferSourceMissingError : TransferError;
      throw new Kind(`GET ${maskCredentials(from)} answered ${response.status} ${response.statusText}`, this.name, maskCredentials(from));
    }
    const tmp = `${toPath}.${randomBytes(6).toString("hex")}.part`;
    try {
      await pipeline(Readable.fromWeb(response.body as import("node:stream/web").ReadableStream), createWriteStream(tmp));
      await rename(tmp, toPath);
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
  }

  async upload(fromPath: string, to: string): Promise<void> {
    const { url, headers } = this.#request(to);
    const size = await localSize(fromPath, this.name);
    const status = await sendFile(url, this.#uploadMethod, {
      "content-type": "application/octet-stream",
      ...headers,
      "content-length": String(size),
    }, fromPath);
    if (status.code < 200 || status.code >= 300) {
      throw new TransferError(`${this.#uploadMethod} ${maskCredentials(to)} answered ${status.code} ${status.text}`, this.name, maskCredentials(to));
    }
  }

  #request(address: string): { url: URL; headers: Record<string, string> } {
    const url = parseHttpUrl(address);
    const headers: Record<string, string> = { ...this.#headers };
    if (url.username !== "" || url.password !== "") {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      headers["authorization"] ??= `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
      url.username = "";
      url.password = "";
    }
    return { url, headers };
  }
}

function parseHttpUrl(address: string): URL {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new TypeError(`${maskCredentials(address)} is not a URL (write http://host/path or https://host/path)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`${maskCredentials(address)} is not an http:// or https:// URL`);
  }
  return url;
}

/**
 * Streams a file as a request body with node:http(s). Not fetch: on node 20
 * fetch reads a streamed body ahead without limit, so a large upload would
 * sit in memory whole; a piped request waits for the socket to drain.
 */
function sendFile(url: URL, method: string, headers: Record<string, string>, path: string): Promise<{ code: number; text: string }> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolvePromise, reject) => {
    const req = request(url, { method, headers }, (res) => {
      res.resume();
      res.on("end", () => resolvePromise({ code: res.statusCode ?? 0, text: res.statusMessage ?? "" }));
      res.on("error", reject);
    });
    req.on("error", reject);
    pipeline(createReadStream(path), req).catch(reject);
  });
}
