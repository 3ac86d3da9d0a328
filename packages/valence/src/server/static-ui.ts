/**
 * Serves the built dashboard (`packages/ui`, `@valence/ui`'s dist/) at `/`.
 * The server does not import the UI: it finds the package's files at run
 * time, so a server without them still runs and says how to build them.
 * Client routes (`/dispatches/dsp_…`) get index.html; nothing outside the
 * UI's directory is ever read, whatever the path says.
 */
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/** The dashboard's dist/ directory, or undefined when `@valence/ui` is not installed. */
export function findUiDir(): string | undefined {
  const fromEnv = process.env["VALENCE_UI_DIR"];
  if (fromEnv) return resolve(fromEnv);
  try {
    return join(dirname(createRequire(import.meta.url).resolve("@valence/ui/package.json")), "dist");
  } catch {
    return undefined;
  }
}

/**
 * A handler for GET and HEAD requests outside `/api/`: files of `uiDir`, or
 * its index.html for paths without an extension (client-side routes).
 *
 * @example
 * const ui = serveUi(findUiDir());
 * const res = await ui(new Request("http://x/dispatches/dsp_abc")); // index.html
 */
export function serveUi(uiDir: string | undefined): (req: Request) => Response {
  const find = () => (uiDir && existsSync(join(uiDir, "index.html")) ? realpathSync(uiDir) : undefined);
  // Looked for again until found: a dashboard built while the server runs is served at once.
  let root = find();
  return (req) => {
    root ??= find();
    if (!root) return notBuilt(uiDir);
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url).pathname);
    } catch {
      return text(400, "bad path encoding");
    }
    if (path.includes("\0") || path.includes("\\")) return text(400, "bad path");
    const file = inside(root, path);
    if (file === undefined) return text(404, "not found");
    if (isFile(file)) return send(req, file);
    // An asset that is not there is a 404; anything else is a page of the app.
    if (extname(path) !== "") return text(404, "not found");
    return send(req, join(root, "index.html"));
  };
}

/**
 * `fetch` wrapped so GET and HEAD requests outside `/api/` (and /metrics) go to the UI.
 * They need no token: the UI's files are public code and hold no data; the
 * API it then calls still checks the token.
 */
export function withDashboardUi<A extends unknown[]>(
  fetch: (req: Request, ...rest: A) => Response | Promise<Response>,
  ui: (req: Request) => Response = serveUi(findUiDir()),
): (req: Request, ...rest: A) => Response | Promise<Response> {
  return (req, ...rest) => {
    const path = new URL(req.url).pathname;
    const isPage = (req.method === "GET" || req.method === "HEAD") && !path.startsWith("/api/") && path !== METRICS_PATH;
    return isPage ? ui(req) : fetch(req, ...rest);
  };
}

/** Prometheus's default path: answered by the app, not the UI. */
const METRICS_PATH = "/metrics";

/** `path` resolved under `root`, or undefined if it (or a symlink on the way) leads outside. */
function inside(root: string, path: string): string | undefined {
  const file = resolve(root, `.${path.startsWith("/") ? path : `/${path}`}`);
  if (!within(root, file)) return undefined;
  if (!existsSync(file)) return file;
  const real = realpathSync(file);
  return within(root, real) ? real : undefined;
}

function within(root: string, file: string): boolean {
  const rel = relative(root, file);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function send(req: Request, file: string): Response {
  const type = TYPES[extname(file)] ?? "application/octet-stream";
  // Vite names assets by content hash: they never change. index.html always might.
  const cache = file.includes(`${sep}assets${sep}`) ? "public, max-age=31536000, immutable" : "no-cache";
  const headers = { "content-type": type, "cache-control": cache, "x-content-type-options": "nosniff" };
  return new Response(req.method === "HEAD" ? null : readFileSync(file), { status: 200, headers });
}

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

function notBuilt(uiDir: string | undefined): Response {
  const where = uiDir ? `Its files are not in ${escapeHtml(uiDir)}.` : "The package @valence/ui is not installed next to this server.";
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Valence</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}code{background:#8882;padding:0 .3em}</style></head>
<body><h1>The Valence dashboard is not built</h1><p>${where}</p>
<p>From the repository, run <code>npm install</code> (it builds the dashboard) or <code>npm run build -w @valence/ui</code>, then reload.
The HTTP API works without it: <a href="/api/v1/health">/api/v1/health</a>.</p></body></html>`;
  return new Response(html, { status: 503, headers: { "content-type": "text/html; charset=utf-8" } });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
