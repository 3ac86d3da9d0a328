// The system's Chromium (Debian's package) driven by playwright-core: never a downloaded browser.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { startServer, type RunningServer } from "../../valence/src/server/server.js";

const uiRoot = new URL("..", import.meta.url).pathname;

export const CHROMIUM = process.env.VALENCE_CHROMIUM ?? "/usr/bin/chromium";
export const artifacts = join(new URL("../../..", import.meta.url).pathname, "test-artifacts");

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install it with \`apt-get install chromium\` (scripts/install-services.sh does) or set VALENCE_CHROMIUM`);
  }
  mkdirSync(artifacts, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage"] });
}

export interface PageOptions {
  readonly dark?: boolean;
  readonly width?: number;
  readonly height?: number;
}

/** A page that records every console error and uncaught exception into `errors`. */
export async function openPage(browser: Browser, errors: string[], opts: PageOptions = {}): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1400, height: opts.height ?? 860 },
    colorScheme: opts.dark ? "dark" : "light",
  });
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`${page.url()}: console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`${page.url()}: uncaught: ${e.message}`));
  return page;
}

/**
 * Waits until the graph shows `n` edges, then checks the count. React Flow draws an edge only
 * once it has measured both of its nodes, a frame or more after the nodes appear, so counting
 * edges straight after waiting for nodes races the browser.
 */
export async function edgesDrawn(page: Page, n: number): Promise<void> {
  const count = () => page.locator(".react-flow__edge").count();
  await page.waitForFunction(`document.querySelectorAll(".react-flow__edge").length === ${n}`, undefined, { timeout: 10_000 }).catch(() => undefined);
  assert.equal(await count(), n, `the graph should show ${n} edges`);
}

export const shot = (page: Page, name: string) => page.screenshot({ path: join(artifacts, `${name}.png`) });

/** A real server on a data dir of its own, the SDK in this process pointed at it, and a Chromium. */
export interface DashboardServer {
  readonly server: RunningServer;
  readonly base: string;
  readonly browser: Browser;
  close(): Promise<void>;
}

/**
 * Starts what a dashboard test needs: the built dashboard (built first if this checkout has
 * not: the tests use the built files, as `valence start` does), a server on `serverDir` that
 * logs to its server.log, `VALENCE_SERVER` pointing at it, and a browser.
 */
export async function startDashboardServer(dataDir: string, serverDir: string): Promise<DashboardServer> {
  if (!existsSync(join(uiRoot, "dist", "index.html"))) {
    const r = spawnSync("npm", ["run", "build"], { cwd: uiRoot, stdio: "inherit" });
    assert.equal(r.status, 0, "building the dashboard failed");
  }
  mkdirSync(serverDir, { recursive: true });
  const logFile = join(serverDir, "server.log");
  const server = await startServer({ dataDir: serverDir, port: 0, log: (line) => appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`) });
  process.env.VALENCE_SERVER = server.info.url;
  process.env.VALENCE_TEST_TIMING_LOG = join(dataDir, "cpu_timing.log");
  const browser = await launch();
  return {
    server,
    base: server.info.url,
    browser,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** What a dashboard test file works with (`useDashboardServer`). */
export interface DashboardFixture {
  /** The server's data dir: `DATA_DIR/server`. */
  readonly serverDir: string;
  /** The server's URL, once the file's `before` has run. */
  readonly base: string;
  /** Console errors and uncaught exceptions of every page `page` opened. */
  readonly consoleErrors: string[];
  /** A new page (its own browser context) on the file's Chromium. */
  page(opts?: PageOptions): Promise<Page>;
}

/**
 * A test file's dashboard set-up: `startDashboardServer` on `DATA_DIR/server` before the file's
 * tests, closed after them.
 */
export function useDashboardServer(dataDir: string): DashboardFixture {
  const serverDir = join(dataDir, "server");
  const consoleErrors: string[] = [];
  let started: DashboardServer | undefined;
  before(async () => {
    started = await startDashboardServer(dataDir, serverDir);
  });
  after(() => started?.close());
  const running = (): DashboardServer => {
    if (!started) throw new Error("the dashboard server starts in the test file's before(): use it inside tests");
    return started;
  };
  return {
    serverDir,
    consoleErrors,
    get base() {
      return running().base;
    },
    page: (opts = {}) => openPage(running().browser, consoleErrors, opts),
  };
}
