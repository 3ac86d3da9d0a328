// How fast the dashboard shows a large dispatch (issue 16). Not a test: a measurement that prints
// its figures. A real server (in this process, on a temp data dir) runs real dispatches of `wide`
// (n independent `inc`, 2n nodes); Debian's Chromium (playwright-core, as the browser tests drive
// it) opens each dispatch's page, and the time from navigation to the grouped graph visible (a
// group node laid out and painted, by the page's own clock) and the page's JS heap (after a GC)
// are measured. Cold = the first load after the server started (the server groups the graph);
// warm = later loads (the shape cached, statuses read again), each in a fresh browser context;
// running = a load started as soon as `dispatch` returned, while the runner works through the
// dispatch (the server reads every status for each answer; the page follows the live stream).
//
//   node --import tsx packages/ui/bench/load.ts [--sizes 10000,100000] [--runs 5] [--cold 3]
//        [--nodes-view 10000] [--screenshots docs/images]
//
// --nodes-view N also times the same page drawn node by node (`?view=nodes`, the dashboard
// before groups) for the sizes up to N; --screenshots DIR writes the grouped graph of the
// 10,000-node dispatch and a group's table there.
import { dataDir } from "./env.js";
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { startServer, type RunningServer } from "../../valence/src/server/server.js";
import { CHROMIUM, launch } from "../tests/browser.js";

const uiRoot = new URL("..", import.meta.url).pathname;

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}
const sizes = option("sizes", "10000,100000").split(",").map(Number);
const runs = Number(option("runs", "5"));
const coldRuns = Number(option("cold", "3"));
const nodesViewUpTo = Number(option("nodes-view", "10000"));
const screenshots = process.argv.includes("--screenshots") ? resolve(option("screenshots", "docs/images")) : undefined;
if (sizes.some((s) => !Number.isInteger(s) || s < 2 || s % 2)) throw new Error("--sizes: even node counts, comma-separated (wide of n incs has 2n nodes)");

const serverDir = join(dataDir, "server");
mkdirSync(serverDir, { recursive: true });
const logFile = join(serverDir, "server.log");
const start = () => startServer({ dataDir: serverDir, port: 0, log: (line) => appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`) });

interface Load {
  /** Navigation start → the first group node painted, by the page's clock (ms). */
  readonly visibleMs: number;
  /** The same, as the bench saw it (page.goto to the answer, ms). */
  readonly wallMs: number;
  /** JS heap in use after a GC (bytes). */
  readonly heap: number;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const ms = (x: number) => (x < 1000 ? `${Math.round(x)} ms` : `${(x / 1000).toFixed(2)} s`);
const mb = (x: number) => `${(x / 1024 / 1024).toFixed(1)} MB`;

/** Opens `url` in a fresh context, waits for `selector` to be painted, reads the heap. */
async function load(browser: Browser, url: string, selector: string, timeout = 180_000): Promise<Load> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 }, colorScheme: "light" });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const t0 = performance.now();
  await page.goto(url, { waitUntil: "commit" });
  // A string, not a function: tsx's helpers do not exist in the page.
  const found = await page.waitForFunction(
    `(() => { const el = document.querySelector(${JSON.stringify(selector)}); if (!el) return 0; const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 ? performance.now() : 0; })()`,
    undefined,
    { polling: "raf", timeout },
  );
  const visibleMs = (await found.jsonValue()) as number;
  const wallMs = performance.now() - t0;
  const heap = await heapOf(page);
  await context.close();
  if (errors.length) throw new Error(`the page failed: ${errors.join("; ")}`);
  return { visibleMs, wallMs, heap };
}

async function heapOf(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("HeapProfiler.enable");
  await cdp.send("HeapProfiler.collectGarbage");
  await cdp.send("Performance.enable");
  const { metrics } = await cdp.send("Performance.getMetrics");
  await cdp.detach();
  return metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? NaN;
}

async function apiMs(base: string, id: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const res = await fetch(`${base}/api/v1/dashboard/dispatches/${id}/groups`);
  const text = await res.text();
  if (!res.ok) throw new Error(`groups: HTTP ${res.status}: ${text}`);
  return { ms: performance.now() - t0, bytes: Buffer.byteLength(text) };
}

async function shoot(browser: Browser, base: string, id: string, dir: string, timelineId?: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 }, colorScheme: "light" });
  const page = await context.newPage();
  await page.goto(`${base}/dispatches/${id}?params=1`);
  await page.locator('.react-flow__node .gnode[data-name="parameters"]').waitFor();
  await page.waitForTimeout(500);
  await page.screenshot({ path: join(dir, "dashboard-grouped-10k.png") });
  await page.goto(`${base}/dispatches/${id}`);
  await page.locator('.react-flow__node .gnode[data-name="inc"]').click();
  await page.getByTestId("group-pager").filter({ hasText: "of 5,000" }).waitFor();
  const row = page.locator("[data-testid=group-table] tbody tr[data-node]").nth(2);
  await row.click();
  await page.getByTestId("node-output").waitFor();
  await page.waitForTimeout(500);
  await page.screenshot({ path: join(dir, "dashboard-group-table.png") });
  if (timelineId) {
    await page.goto(`${base}/dispatches/${timelineId}?tab=timeline`);
    await page.getByTestId("timeline-canvas").waitFor();
    await page.waitForTimeout(1000);
    await page.screenshot({ path: join(dir, "dashboard-timeline-10k.png") });
    console.log(`screenshot: ${join(dir, "dashboard-timeline-10k.png")}`);
  }
  await context.close();
  console.log(`screenshots: ${join(dir, "dashboard-grouped-10k.png")}, ${join(dir, "dashboard-group-table.png")}`);
}

async function main(): Promise<void> {
  if (!existsSync(join(uiRoot, "dist", "index.html"))) {
    const r = spawnSync("npm", ["run", "build"], { cwd: uiRoot, stdio: "inherit" });
    if (r.status !== 0) throw new Error("building the dashboard failed");
  }
  const startLoad = loadavg()[0] as number;
  let server: RunningServer = await start();
  process.env.VALENCE_SERVER = server.info.url;
  const { dispatch, getResult } = await import("../../valence/src/index.js");
  const { wide, wideWork } = await import("./workflows.js");
  // The timeline screenshot's own dispatch, made while this process's dispatcher knows the first server:
  // 5,000 tasks of about 0.3 ms on the local pool (two worker lanes).
  let timelineId: string | undefined;
  if (screenshots) {
    timelineId = await dispatch(wideWork)(5_000);
    await getResult(timelineId, { wait: true });
  }
  const browser = await launch();
  const rows: string[] = [];
  try {
    const ids = new Map<number, string>();
    for (const size of sizes) {
      const t0 = performance.now();
      const id = await dispatch(wide)(size / 2);
      const result = (await getResult(id, { wait: true })).result as number[];
      if (result.length !== size / 2 || result[size / 2 - 1] !== size / 2) throw new Error(`wide(${size / 2}) gave a wrong result`);
      console.log(`dispatched wide(${(size / 2).toLocaleString("en-US")}): ${size.toLocaleString("en-US")} nodes, done in ${ms(performance.now() - t0)} (${id})`);
      ids.set(size, id);
    }
    const runningLoads = new Map<number, Load>();
    for (const size of sizes) {
      // Opened while it runs: dispatched again, the page loaded at once.
      const id = await dispatch(wide)(size / 2);
      runningLoads.set(size, await load(browser, `${server.info.url}/dispatches/${id}`, ".react-flow__node .gnode"));
      const status = (await (await fetch(`${server.info.url}/api/v1/dashboard/dispatches/${id}/groups`)).json()) as { dispatch: { status: string } };
      console.log(`${size} nodes, loaded while running: visible after ${ms(runningLoads.get(size)!.visibleMs)} (the dispatch ${status.dispatch.status} just after)`);
      await getResult(id, { wait: true });
    }
    for (const size of sizes) {
      const id = ids.get(size) as string;
      // Cold: a server that has just started, so its first answer groups the graph.
      const cold: Load[] = [];
      for (let r = 0; r < coldRuns; r++) {
        await server.close();
        server = await start();
        process.env.VALENCE_SERVER = server.info.url;
        cold.push(await load(browser, `${server.info.url}/dispatches/${id}`, ".react-flow__node .gnode"));
      }
      // The API alone, on a fresh server: the first reply groups, later ones only count.
      await server.close();
      server = await start();
      process.env.VALENCE_SERVER = server.info.url;
      const first = await apiMs(server.info.url, id);
      const apiWarm: number[] = [];
      for (let r = 0; r < 5; r++) apiWarm.push((await apiMs(server.info.url, id)).ms);
      const warm: Load[] = [];
      for (let r = 0; r < runs; r++) warm.push(await load(browser, `${server.info.url}/dispatches/${id}`, ".react-flow__node .gnode"));
      let nodesView = "–";
      if (size <= nodesViewUpTo) {
        const before = await load(browser, `${server.info.url}/dispatches/${id}?view=nodes`, ".react-flow__node .vnode", 600_000);
        nodesView = `${ms(before.visibleMs)}, heap ${mb(before.heap)}`;
      }
      const goal = size <= 10_000 ? 1000 : 3000;
      const coldMs = median(cold.map((l) => l.visibleMs));
      const warmMs = median(warm.map((l) => l.visibleMs));
      rows.push(
        `| ${size.toLocaleString("en-US")} | ${ms(coldMs)} / ${ms(warmMs)} / ${ms(runningLoads.get(size)!.visibleMs)} ${Math.max(coldMs, warmMs, runningLoads.get(size)!.visibleMs) < goal ? "✓" : "✗"} (< ${ms(goal)}) | ` +
          `${mb(median(warm.map((l) => l.heap)))} | ${ms(first.ms)} / ${ms(median(apiWarm))}, ${(first.bytes / 1024).toFixed(1)} KiB | ${nodesView} |`,
      );
      console.log(
        `${size} nodes: visible cold ${cold.map((l) => ms(l.visibleMs)).join(", ")}; warm ${warm.map((l) => ms(l.visibleMs)).join(", ")}; ` +
          `heap ${warm.map((l) => mb(l.heap)).join(", ")}; /groups first ${ms(first.ms)}, then ${apiWarm.map(ms).join(", ")}; node by node: ${nodesView}`,
      );
    }
    if (screenshots) {
      const id = ids.get(10_000);
      if (id) await shoot(browser, server.info.url, id, screenshots, timelineId);
      else console.log("screenshots: need a 10,000-node dispatch (--sizes 10000,…)");
    }
  } finally {
    await browser.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log("");
  console.log(
    `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${cpus().length} cores, load average ${startLoad.toFixed(1)} at the start, ` +
      `${(loadavg()[0] as number).toFixed(1)} at the end; Chromium ${CHROMIUM}; median of ${coldRuns} cold and ${runs} warm loads.`,
  );
  console.log("");
  console.log("| nodes | navigation → grouped graph visible, cold / warm / running | JS heap (warm) | `/groups` reply, first / later, size | node by node (before) |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const r of rows) console.log(r);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
