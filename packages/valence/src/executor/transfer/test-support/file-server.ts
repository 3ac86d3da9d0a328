/**
 * A small HTTP file server for the HTTP strategy's tests: GET streams a file
 * from `root`, PUT and POST stream the body into one; every request needs
 * Basic auth with the given user and password. A real `node:http` server on
 * 127.0.0.1, streaming both ways, so it adds no memory of its own to measure.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { dirname, join, normalize } from "node:path";
import { pipeline } from "node:stream/promises";

export interface FileServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** How many requests came in, by method. */
  readonly requests: Map<string, number>;
  close(): Promise<void>;
}

export async function startFileServer(root: string, user: string, password: string): Promise<FileServer> {
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const requests = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    requests.set(req.method ?? "?", (requests.get(req.method ?? "?") ?? 0) + 1);
    void (async () => {
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { "www-authenticate": 'Basic realm="test"' }).end("unauthorized");
        return;
      }
      const path = join(root, normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)).replace(/^(\.\.[/\\])+/, ""));
      if (req.method === "GET") {
        const s = await stat(path).catch(() => undefined);
        if (!s?.isFile()) {
          res.writeHead(404).end("not found");
          return;
        }
        res.writeHead(200, { "content-length": String(s.size) });
        await pipeline(createReadStream(path), res);
      } else if (req.method === "PUT" || req.method === "POST") {
        await mkdir(dirname(path), { recursive: true });
        const tmp = `${path}.upload`;
        await pipeline(req, createWriteStream(tmp));
        await rename(tmp, path);
        res.writeHead(201).end();
      } else {
        res.writeHead(405).end();
      }
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("file server has no port");
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
