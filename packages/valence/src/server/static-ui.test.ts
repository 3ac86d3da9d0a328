// The dashboard's static files: served from the UI dir, index.html for client routes, and
// nothing outside that dir, however the path is spelled (encoded dots, slashes, symlinks).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startServer, type RunningServer } from "./server.js";
import { serveUi, withDashboardUi } from "./static-ui.js";

delete process.env["VALENCE_TOKEN"];

let root: string;
let uiDir: string;
let ui: (req: Request) => Response;

before(() => {
  root = mkdtempSync(join(tmpdir(), "valence-ui-"));
  uiDir = join(root, "dist");
  mkdirSync(join(uiDir, "assets"), { recursive: true });
  writeFileSync(join(uiDir, "index.html"), "<!doctype html><title>INDEX</title>");
  writeFileSync(join(uiDir, "assets", "app-abc.js"), "console.log(1)");
  writeFileSync(join(root, "secret.txt"), "SECRET");
  writeFileSync(join(root, "dist-evil.txt"), "SECRET");
  symlinkSync(join(root, "secret.txt"), join(uiDir, "link.txt"));
  ui = serveUi(uiDir);
});
after(() => rmSync(root, { recursive: true, force: true }));

const get = async (path: string) => {
  const res = ui(new Request(`http://127.0.0.1${path}`));
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
};

/** A raw request line, untouched by URL normalisation on the client side. */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("static UI", () => {
  it("serves files with their type, and index.html for client routes", async () => {
    assert.deepEqual(await get("/"), { status: 200, type: "text/html; charset=utf-8", body: "<!doctype html><title>INDEX</title>" });
    const js = await get("/assets/app-abc.js");
    assert.equal(js.type, "text/javascript; charset=utf-8");
    assert.equal(js.body, "console.log(1)");
    assert.equal((await get("/dispatches/dsp_abc123")).body, "<!doctype html><title>INDEX</title>");
    assert.equal((await get("/assets/missing.js")).status, 404);
  });

  it("never reads outside the UI dir", async () => {
    for (const path of [
      "/../secret.txt",
      "/..%2fsecret.txt",
      "/%2e%2e/secret.txt",
      "/%2e%2e%2fsecret.txt",
      "/assets/..%2f..%2fsecret.txt",
      "/..%5csecret.txt",
      "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "/../dist-evil.txt",
      "/link.txt",
      "/%00index.html",
      "/%E0%A4%A",
    ]) {
      const r = await get(path);
      assert.ok(!r.body.includes("SECRET") && !r.body.includes("root:"), `${path} leaked: ${r.status}`);
      assert.ok(r.status === 404 || r.status === 400 || r.body.includes("INDEX"), `${path}: ${r.status}`);
    }
  });

  it("says how to build it when the UI is missing, and serves it once it is built, without a restart", async () => {
    const later = join(root, "built-later");
    const serve = serveUi(later);
    const res = serve(new Request("http://127.0.0.1/"));
    assert.equal(res.status, 503);
    assert.match(await res.text(), /npm run build -w @valence\/ui/);
    mkdirSync(later);
    writeFileSync(join(later, "index.html"), "<!doctype html><title>BUILT</title>");
    const now = serve(new Request("http://127.0.0.1/dispatches/dsp_abc123"));
    assert.equal(now.status, 200);
    assert.match(await now.text(), /BUILT/);
  });

  it("sends /api/ requests and other methods to the API, untouched", async () => {
    const api = () => new Response("API");
    const fetch = withDashboardUi(api, ui);
    assert.equal(await (await fetch(new Request("http://x/api/v1/health"))).text(), "API");
    assert.equal(await (await fetch(new Request("http://x/", { method: "POST" }))).text(), "API");
    assert.equal(await (await fetch(new Request("http://x/dispatches"))).text(), "<!doctype html><title>INDEX</title>");
  });

  describe("through a real server", () => {
    let server: RunningServer;
    before(async () => {
      process.env["VALENCE_UI_DIR"] = uiDir;
      server = await startServer({ dataDir: join(root, "data"), port: 0, log: () => undefined });
    });
    after(async () => {
      delete process.env["VALENCE_UI_DIR"];
      await server.close();
    });

    it("serves the UI at / and keeps raw traversal attempts inside", async () => {
      const port = server.info.port;
      assert.match((await rawGet(port, "/")).body, /INDEX/);
      for (const path of ["/../secret.txt", "/..%2f..%2fsecret.txt", "//../secret.txt", "/assets/../../secret.txt", "/%2e%2e/%2e%2e/data/valence.db"]) {
        const r = await rawGet(port, path);
        assert.ok(!r.body.includes("SECRET") && !r.body.includes("SQLite"), `${path} leaked`);
      }
      const api = await rawGet(port, "/api/v1/dashboard/summary");
      assert.deepEqual(JSON.parse(api.body), { total: 0, counts: {} });
    });
  });
});
