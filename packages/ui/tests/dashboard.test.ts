// The dashboard in a real browser (Debian's Chromium, playwright-core) against a real server
// with real dispatches: live list, the TimingExecutor graph, live status changes, the node
// panel, cancel and redispatch from the UI, a failed node's error, a graph of ~3000 nodes,
// the log and config pages, and no console errors anywhere. Screenshots go to test-artifacts/.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Page } from "playwright-core";
import { startServer } from "../../valence/src/server/server.js";
import { edgesDrawn, shot, useDashboardServer } from "./browser.js";

const ui = useDashboardServer(dataDir);

const sdk = () => import("../../valence/src/index.js");
const flows = () => import("./fixtures/workflows.js");

const page = ui.page;

/** The example's TimingExecutor workflow dispatched with (x, y) and finished, and its page opened. */
async function openFinishedDispatch(x: number, y: number): Promise<{ id: string; p: Page }> {
  const { dispatch, getResult } = await sdk();
  const { timingWorkflow } = await flows();
  const id = await dispatch(timingWorkflow)(x, y);
  await getResult(id, { wait: true });
  const p = await page();
  await p.goto(`${ui.base}/dispatches/${id}`);
  return { id, p };
}

const nodeNames = (p: Page) => p.locator(".react-flow__node .vnode").evaluateAll((els) => els.map((e) => e.getAttribute("data-name") ?? ""));
const graphNode = (p: Page, name: string) => p.locator(`.react-flow__node .vnode[data-name="${name}"]`);

describe("dashboard in Chromium", () => {
  it("shows a new dispatch in the list live, without a reload", async (t) => {
    const { dispatch, getResult } = await sdk();
    const { timingWorkflow } = await flows();
    // Something to look at in the summary and the list first.
    await getResult(await dispatch(timingWorkflow)(1, 2), { wait: true });
    const p = await page();
    await p.goto(ui.base);
    await p.locator(".live.on").waitFor();
    const id = await dispatch(timingWorkflow)(3, 4);
    const t0 = Date.now();
    // The page was loaded before the dispatch existed: only the live stream can bring it (no timing threshold: a benchmark's job).
    await p.locator(`tr[data-dispatch="${id}"]`).waitFor({ timeout: 15_000 });
    t.diagnostic(`the new dispatch showed up after ${Date.now() - t0} ms`);
    // Newest first.
    assert.equal(await p.locator("tbody tr").first().getAttribute("data-dispatch"), id);
    await getResult(id, { wait: true });
    await p.locator(`tr[data-dispatch="${id}"] .badge[data-status="COMPLETED"]`).waitFor({ timeout: 5000 });
    assert.equal(await p.getByTestId("count-completed").textContent(), "2");
    await shot(p, "list");
    await p.context().close();
  });

  it("draws the TimingExecutor example's graph: 5 nodes with the right names", async () => {
    const { p } = await openFinishedDispatch(3, 4);
    await p.locator(".react-flow__node").nth(4).waitFor();
    assert.deepEqual((await nodeNames(p)).sort(), [":parameter:3", ":parameter:4", ":parameter:4", "add", "multiply"]);
    assert.equal(await p.locator(".react-flow__node").count(), 5);
    await edgesDrawn(p, 4);
    // Parameters are quieter than electrons.
    assert.equal(await p.locator('.vnode.quiet[data-name=":parameter:3"]').count(), 1);
    assert.equal(await p.locator('.vnode.quiet[data-name="add"]').count(), 0);
    await graphNode(p, "multiply").click();
    await p.getByTestId("node-output").filter({ hasText: "28" }).waitFor();
    assert.match((await p.locator(".panel").textContent()) ?? "", /TimingExecutor/);
    assert.match((await p.locator(".panel pre.source").textContent()) ?? "", /export const multiply = electron/);
    await shot(p, "graph");
    // The Result text as the CLI prints it.
    await p.getByRole("button", { name: "Result text" }).click();
    await p.getByTestId("result-text").filter({ hasText: "Lattice Result" }).waitFor();
    assert.match((await p.getByTestId("result-text").textContent()) ?? "", /multiply\(3\): 28/);
    await p.context().close();
  });

  it("turns a running node completed without a reload; its panel shows output and stdout", async () => {
    const { dispatch } = await sdk();
    const { slowFlow } = await flows();
    const id = await dispatch(slowFlow)(1500);
    const p = await page({ dark: true });
    await p.goto(`${ui.base}/dispatches/${id}`);
    await graphNode(p, "sleepy").and(p.locator('[data-status="RUNNING"]')).waitFor({ timeout: 5000 });
    await shot(p, "graph-running-dark");
    const url = p.url();
    await graphNode(p, "sleepy").and(p.locator('[data-status="COMPLETED"]')).waitFor({ timeout: 10_000 });
    assert.equal(p.url(), url);
    await graphNode(p, "sleepy").click();
    await p.getByTestId("node-stdout").filter({ hasText: "woke up" }).waitFor();
    const output = (await p.getByTestId("node-output").textContent()) ?? "";
    assert.match(output, /slept: 1500/);
    assert.match(output, /Map\(1\)/);
    assert.match((await p.getByTestId("node-stdout").textContent()) ?? "", /sleeping 1500 ms\nwoke up/);
    await shot(p, "node-panel-dark");
    await p.context().close();
  });

  it("cancels a dispatch from the UI, after asking", async () => {
    const { dispatch, getResult } = await sdk();
    const { slowFlow } = await flows();
    const id = await dispatch(slowFlow)(60_000);
    const p = await page();
    await p.goto(`${ui.base}/dispatches/${id}`);
    await graphNode(p, "sleepy").and(p.locator('[data-status="RUNNING"]')).waitFor({ timeout: 5000 });
    await p.getByRole("button", { name: "Cancel dispatch" }).click();
    await p.getByRole("dialog").waitFor();
    await p.getByRole("dialog").getByRole("button", { name: "Cancel dispatch" }).click();
    await p.locator('.dispatch-head .badge[data-status="CANCELLED"]').waitFor({ timeout: 10_000 });
    assert.equal((await getResult(id, { wait: true })).status, "CANCELLED");
    await p.context().close();
  });

  it("shows a failed node's error with its stack", async () => {
    const { dispatch, getResult } = await sdk();
    const { failingFlow } = await flows();
    const id = await dispatch(failingFlow)(-2);
    await getResult(id, { wait: true });
    const p = await page();
    await p.goto(`${ui.base}/dispatches/${id}`);
    await graphNode(p, "checkPositive").and(p.locator('[data-status="FAILED"]')).waitFor();
    await graphNode(p, "checkPositive").click();
    const error = p.getByTestId("node-error");
    await error.waitFor();
    assert.match((await error.textContent()) ?? "", /RangeError: x must be positive, got -2/);
    assert.match((await error.textContent()) ?? "", /\bat\b/);
    await shot(p, "failed-node");
    await p.context().close();
  });

  it("redispatches with reuse after confirmation, and opens the new dispatch", async () => {
    const { id, p } = await openFinishedDispatch(5, 6);
    await p.getByRole("button", { name: "Redispatch…" }).click();
    const dialog = p.getByRole("dialog");
    assert.equal(await dialog.getByRole("checkbox").isChecked(), true);
    await dialog.getByRole("button", { name: "Redispatch" }).click();
    await p.waitForURL((u) => /\/dispatches\/dsp_/.test(u.pathname) && !u.pathname.endsWith(id));
    await p.locator('.dispatch-head .badge[data-status="COMPLETED"]').waitFor({ timeout: 10_000 });
    const newId = new URL(p.url()).pathname.split("/").pop() as string;
    const { getResult } = await sdk();
    assert.equal((await getResult(newId, { wait: true })).result, 66);
    await p.context().close();
  });

  it("keeps a graph of about 3000 nodes usable while it runs: laid out off the main thread, live colours, pans and zooms", async () => {
    const { dispatch, getResult } = await sdk();
    const { layered } = await flows();
    // 50 seeds and 59 layers of 50 mixes, each 150 ms: about 3,000 status changes over ten seconds or so.
    const id = await dispatch(layered)(50, 59, true);
    const p = await page();
    const t0 = Date.now();
    // Node by node: a graph this size comes grouped (one group per layer) unless asked (dashboard-groups.test.ts).
    await p.goto(`${ui.base}/dispatches/${id}?view=nodes`);
    await p.getByTestId("graph").waitFor({ timeout: 60_000 });
    const shown = Date.now() - t0;
    // Watch the frames while the statuses pour in: the page must keep drawing.
    // A string, not a function: tsx's helpers (__name) do not exist in the page.
    await p.evaluate(`(() => {
      window.maxGap = 0;
      window.frames = 0;
      let last = performance.now();
      const tick = (t) => {
        window.maxGap = Math.max(window.maxGap, t - last);
        window.frames++;
        last = t;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    })()`);
    const wasRunning = await p.locator(".dispatch-head .badge").getAttribute("data-status");
    await p.waitForTimeout(1500);
    await shot(p, "graph-large-running");
    await getResult(id, { wait: true });
    await p.locator('.dispatch-head .badge[data-status="COMPLETED"]').waitFor({ timeout: 60_000 });
    const frames = (await p.evaluate("({ maxGap: window.maxGap, frames: window.frames })")) as { maxGap: number; frames: number };
    // 50 parameters, 50 seeds and 59 × 50 mixes, every one completed, without a reload.
    const count = 50 + 50 * 60;
    await p.locator(".legend .tone-done").filter({ hasText: `${count} completed` }).waitFor({ timeout: 5000 });
    assert.equal(await p.locator(".legend-item").count(), 1);
    const box = (await p.getByTestId("graph").boundingBox())!;
    await p.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const t1 = Date.now();
    for (let i = 0; i < 5; i++) await p.mouse.wheel(0, -300);
    await p.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
    const zoomMs = Date.now() - t1;
    await p.mouse.down();
    await p.mouse.move(box.x + box.width / 2 + 200, box.y + box.height / 2 + 120, { steps: 5 });
    await p.mouse.up();
    const rendered = await p.locator(".react-flow__node").count();
    const layoutMs = await p.getByTestId("graph").getAttribute("data-layout-ms");
    console.log(
      `# large graph: ${count} nodes (dispatch ${wasRunning} when the graph appeared), graph shown ${shown} ms after navigation (layout ${layoutMs} ms in a worker); ` +
        `while it ran: ${frames.frames} frames, longest gap ${Math.round(frames.maxGap)} ms; ${rendered} nodes rendered after zooming in; 5 wheel steps + a frame in ${zoomMs} ms`,
    );
    assert.ok(rendered < count, "off-screen nodes are not rendered");
    await shot(p, "graph-large-zoomed");
    await p.getByRole("button", { name: /fit view/i }).click();
    await p.waitForTimeout(300);
    await shot(p, "graph-large");
    await p.context().close();
  });

  it("expands a sublattice's run in the graph and collapses it again", async () => {
    const { dispatch, getResult } = await sdk();
    const { outerFlow } = await flows();
    const id = await dispatch(outerFlow)(3);
    assert.equal((await getResult(id, { wait: true })).result, 288);
    const p = await page();
    await p.goto(`${ui.base}/dispatches/${id}`);
    const sub = p.locator(".react-flow__node .vnode.kind-sublattice");
    await sub.waitFor();
    const before = await p.locator(".react-flow__node").count();
    await sub.click();
    await p.getByRole("button", { name: "Expand in graph" }).click();
    // The run's nodes: its parameter and two electrons, marked as inner.
    const inner = p.locator(".react-flow__node .vnode.inner");
    await inner.nth(2).waitFor();
    await p.waitForFunction(`document.querySelectorAll(".react-flow__node").length === ${before + 3}`);
    assert.ok(new URL(p.url()).searchParams.get("expand"));
    await shot(p, "graph-sublattice-expanded");
    // An inner node's panel is its own run's node (the one that squared).
    await inner.nth(2).click();
    await p.getByTestId("node-stdout").filter({ hasText: "squaring 12" }).waitFor();
    assert.equal(await p.getByTestId("node-output").textContent(), "144");
    await sub.click();
    await p.getByRole("button", { name: "Collapse in graph" }).click();
    await inner.first().waitFor({ state: "detached" });
    await p.waitForFunction(`document.querySelectorAll(".react-flow__node").length === ${before}`);
    await p.context().close();
  });

  it("tails the server log and shows the config, read-only", async () => {
    const p = await page();
    await p.goto(`${ui.base}/log`);
    await p.getByTestId("server-log").filter({ hasText: "listening on" }).waitFor();
    appendFileSync(join(ui.serverDir, "server.log"), "a line written just now\n");
    await p.getByTestId("server-log").filter({ hasText: "a line written just now" }).waitFor({ timeout: 3000 });
    await shot(p, "log");
    await p.getByRole("link", { name: "Config" }).click();
    await p.getByTestId("config").filter({ hasText: "data_dir" }).waitFor();
    assert.match((await p.getByTestId("config").textContent()) ?? "", /default_executor/);
    await shot(p, "config");
    await p.context().close();
  });

  it("finds dispatches by name, filters by status, pages, and is usable from the keyboard", async () => {
    const p = await page();
    await p.goto(`${ui.base}/?status=failed`);
    await p.locator("tbody tr[data-dispatch]").first().waitFor();
    const statuses = await p.locator("tbody .badge").evaluateAll((els) => els.map((e) => e.getAttribute("data-status")));
    assert.ok(statuses.length > 0 && statuses.every((s) => s === "FAILED"), String(statuses));
    await p.goto(ui.base);
    await p.getByRole("searchbox").fill("failingFlow");
    await p.waitForURL(/q=failingFlow/);
    await p.locator("tbody tr[data-dispatch]").first().waitFor();
    assert.ok((await p.locator("tbody .name").allTextContents()).every((t) => t === "failingFlow"));
    // Tab to the first dispatch link and open it with Enter.
    await p.getByRole("searchbox").focus();
    for (let i = 0; i < 10 && !(await p.evaluate(() => document.activeElement?.closest("td.name") !== null)); i++) await p.keyboard.press("Tab");
    await p.keyboard.press("Enter");
    await p.waitForURL(/\/dispatches\/dsp_/);
    await p.getByTestId("graph").waitFor();
    // Graph nodes take the focus and open their panel with Enter; Escape closes it.
    await p.locator(".react-flow__node").first().waitFor();
    await p.locator('.react-flow__node:has(.vnode[data-name="checkPositive"])').focus();
    await p.keyboard.press("Enter");
    await p.getByTestId("node-error").waitFor();
    assert.match(p.url(), /\?node=0$/);
    await p.keyboard.press("Tab");
    await p.keyboard.press("Escape");
    await p.locator(".panel").waitFor({ state: "detached" });
    await p.context().close();
  });

  it("pages through thousands of dispatches", async () => {
    // 3,000 finished dispatches written straight into the server's store (a second connection, as a CLI would open).
    const { SqliteStore } = await import("../../valence/src/engine/store/sqlite-store.js");
    const { encode } = await import("../../valence/src/codec/index.js");
    const store = new SqliteStore(ui.serverDir);
    const t = Date.now() - 86_400_000;
    await store.write((w) => {
      for (let i = 0; i < 3000; i++) {
        const id = `dsp_bulk${String(i).padStart(5, "0")}` as never;
        const status = i % 7 === 0 ? "FAILED" : "COMPLETED";
        w.insertDispatch(
          {
            id, parentId: null, parentNode: null, name: `bulk_${i % 10}`, latticeId: null, status, inputs: encode([]), output: null,
            outputTemplate: encode({ value: null, holes: [] }), error: null, createdAt: t + i, startedAt: t + i, endedAt: t + i + 5, resultsDir: join(ui.serverDir, "results", id),
            bundlePath: null, entryFile: null, cwd: ui.serverDir, ownerPid: null, ownerHost: null, ownerLock: null, nodeCount: 1, nodesDone: 1,
          },
          [],
          [],
        );
      }
    });
    await store.close();
    const p = await page({ dark: true });
    await p.goto(ui.base);
    await p.locator(".pager").filter({ hasText: /of 3,0\d\d · page 1 of 6\d/ }).waitFor();
    await shot(p, "list-dark-thousands");
    await p.getByRole("button", { name: "Older →" }).click();
    await p.locator(".pager").filter({ hasText: /^.*51–100 of/ }).waitFor();
    const t0 = Date.now();
    const { total } = (await (await fetch(`${ui.base}/api/v1/dashboard/dispatches?limit=1`)).json()) as { total: number };
    await p.goto(`${ui.base}/?page=${Math.ceil(total / 50)}`);
    await p.locator('tbody tr[data-dispatch="dsp_bulk00000"]').waitFor();
    const lastPageMs = Date.now() - t0;
    await p.goto(`${ui.base}/?q=bulk_3&status=failed`);
    await p.locator("tbody tr[data-dispatch]").first().waitFor();
    const names = await p.locator("tbody .name").allTextContents();
    assert.ok(names.length > 0 && names.every((n) => n === "bulk_3"));
    console.log(`# list: ${total} dispatches, the last page (${Math.ceil(total / 50)}) loaded in ${lastPageMs} ms`);
    await p.context().close();
  });

  it("works with a server that needs a token: asks for it, keeps it, sends it with every call and stream", async () => {
    const token = "test-token-0123456789";
    const guarded = await startServer({ dataDir: join(dataDir, "guarded"), port: 0, token, log: () => undefined });
    try {
      const p = await page();
      // The API refuses without the token: the 401s are expected here, not errors of the page.
      await p.goto(guarded.info.url);
      const form = p.getByRole("alert").filter({ hasText: "needs its token" });
      await form.waitFor();
      await form.getByLabel("Token").fill(token);
      await form.getByRole("button", { name: "Use token" }).click();
      await p.locator(".live.on").waitFor();
      await p.getByText("No dispatches yet").waitFor();
      await p.context().close();
      // Chromium reports each refused request (before the token was given) as a console error.
      const refused = (e: string) => e.startsWith(guarded.info.url) && e.includes("status of 401");
      const kept = ui.consoleErrors.filter((e) => !refused(e));
      ui.consoleErrors.splice(0, ui.consoleErrors.length, ...kept);
      // Given in the address instead: kept, and removed from the address bar.
      const q = await page();
      await q.goto(`${guarded.info.url}/#token=${token}`);
      await q.locator(".live.on").waitFor();
      assert.equal(new URL(q.url()).hash, "");
      await q.context().close();
    } finally {
      await guarded.close();
    }
  });

  it("deletes a finished dispatch from its page, after asking: back on the list it is gone, and so is its data", async () => {
    const { id, p } = await openFinishedDispatch(5, 6);
    await p.getByRole("button", { name: "Delete…" }).click();
    const dialog = p.getByRole("dialog", { name: "Delete this dispatch?" });
    await dialog.waitFor();
    await shot(p, "delete-dispatch");
    await dialog.getByRole("button", { name: "Delete dispatch" }).click();
    await p.waitForURL(`${ui.base}/`);
    await p.locator("tr[data-dispatch]").first().waitFor();
    assert.equal(await p.locator(`tr[data-dispatch="${id}"]`).count(), 0, "the deleted dispatch is still listed");
    assert.equal((await fetch(`${ui.base}/api/v1/dispatches/${id}`)).status, 404);
    await p.context().close();
  });

  it("logged no console errors and no uncaught exceptions", () => {
    assert.deepEqual(ui.consoleErrors, []);
  });
});
