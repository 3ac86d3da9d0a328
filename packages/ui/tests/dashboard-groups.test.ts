// The dashboard at scale, in a real browser (Debian's Chromium, playwright-core) against a real
// server with real dispatches: a 10-node dispatch is still drawn node by node; a 10,000-node one
// (`wide` of 5,000 `inc`) comes as a grouped graph (`inc × 5,000` with its counts), parameters on
// a toggle; a group opens a table of its nodes that pages, sorts and filters, and a row opens the
// node panel; a running grouped dispatch's counts move before it ends. Screenshots go to
// test-artifacts/. No timing thresholds.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Page } from "playwright-core";
import { edgesDrawn, shot, useDashboardServer } from "./browser.js";

const ui = useDashboardServer(dataDir);

const sdk = () => import("../../valence/src/index.js");
const flows = () => import("./fixtures/workflows.js");
const page = ui.page;
const group = (p: Page, name: string) => p.locator(`.react-flow__node .gnode[data-name="${name}"]`);
const rowIds = (p: Page) => p.locator("[data-testid=group-table] tbody tr[data-node]").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-node"))));

let wideId: string;

describe("grouped dashboard in Chromium", () => {
  it("still draws a 10-node dispatch node by node", async () => {
    const { dispatch, getResult } = await sdk();
    const { wide } = await flows();
    const id = await dispatch(wide)(5);
    assert.deepEqual((await getResult(id, { wait: true })).result, [1, 2, 3, 4, 5]);
    const p = await page();
    await p.goto(`${ui.base}/dispatches/${id}`);
    await p.locator(".react-flow__node .vnode").nth(9).waitFor();
    assert.equal(await p.locator(".react-flow__node").count(), 10);
    assert.equal(await p.locator(".gnode").count(), 0);
    assert.equal(await p.locator('.react-flow__node .vnode[data-name="inc"]').count(), 5);
    await edgesDrawn(p, 5);
    await p.context().close();
  });

  it("shows a 10,000-node dispatch as a grouped graph: inc × 5,000 with its counts, parameters on a toggle", async () => {
    const { dispatch, getResult } = await sdk();
    const { wide } = await flows();
    wideId = await dispatch(wide)(5000);
    const result = (await getResult(wideId, { wait: true })).result as number[];
    assert.equal(result[4999], 5000);
    const p = await page();
    await p.goto(`${ui.base}/dispatches/${wideId}`);
    const inc = group(p, "inc");
    await inc.waitFor();
    assert.equal(await inc.locator(".gnode-name").textContent(), "inc");
    assert.equal(await inc.locator(".gnode-size").textContent(), "× 5,000");
    assert.equal(await inc.getAttribute("title"), "inc × 5,000: 5,000 completed");
    assert.equal(await inc.getByTestId("group-counts").textContent(), "5,000 completed");
    assert.equal(await inc.locator('.gbar-seg[data-bucket="completed"]').count(), 1);
    // The spread of durations (one figure when they are all the same) and the executor.
    assert.match((await inc.locator(".gnode-meta").textContent()) ?? "", /^(median .+ · .+–.+|.+ ms each) · inline$/);
    // Parameters hidden: one group, no per-node drawing at all.
    assert.equal(await p.locator(".react-flow__node").count(), 1);
    assert.equal(await p.locator(".vnode").count(), 0);
    assert.equal(await p.getByTestId("grouped-note").textContent(), "10,000 nodes in 1 group");
    await p.locator(".legend .tone-done").filter({ hasText: "10000 completed" }).waitFor();
    await shot(p, "grouped-graph");
    await p.getByLabel("Show 5,000 parameters").check();
    await group(p, "parameters").waitFor();
    assert.equal(await group(p, "parameters").getAttribute("title"), "parameters × 5,000: 5,000 completed");
    assert.equal(await p.locator(".react-flow__node").count(), 2);
    await edgesDrawn(p, 1);
    assert.match(p.url(), /params=1/);
    await p.getByLabel("Show 5,000 parameters").uncheck();
    await p.waitForFunction(`document.querySelectorAll(".react-flow__node").length === 1`);
    await p.context().close();
  });

  it("opens a group's table: pages, sorts, filters, and a row opens the node panel", async () => {
    const p = await page();
    await p.goto(`${ui.base}/dispatches/${wideId}`);
    await group(p, "inc").click();
    const table = p.getByTestId("group-table");
    await table.waitFor();
    const pager = p.getByTestId("group-pager");
    await pager.filter({ hasText: "1–50 of 5,000 · page 1 of 100" }).waitFor();
    assert.match(p.url(), /group=0/);
    // In id order: the incs are the even node ids.
    assert.deepEqual((await rowIds(p)).slice(0, 3), [0, 2, 4]);
    assert.equal((await rowIds(p)).length, 50);
    await table.getByRole("button", { name: "Next →" }).click();
    await pager.filter({ hasText: "51–100 of 5,000 · page 2 of 100" }).waitFor();
    await p.waitForFunction(`document.querySelector("[data-testid=group-table] tbody tr[data-node]")?.getAttribute("data-node") === "100"`);
    // Sorted by duration, longest first (the first click on Duration), back to page 1.
    await table.getByRole("button", { name: "Duration" }).click();
    await pager.filter({ hasText: "1–50 of 5,000 · page 1 of 100" }).waitFor();
    await table.locator('th[aria-sort="descending"]').filter({ hasText: "Duration" }).waitFor();
    await p.waitForFunction(`(() => {
      const ms = [...document.querySelectorAll("[data-testid=group-table] tbody td[data-ms]")].map((td) => Number(td.getAttribute("data-ms")));
      return ms.length === 50 && ms.every((x, i) => i === 0 || ms[i - 1] >= x);
    })()`);
    // And the other way.
    await table.getByRole("button", { name: "Duration" }).click();
    await table.locator('th[aria-sort="ascending"]').filter({ hasText: "Duration" }).waitFor();
    await p.waitForFunction(`(() => {
      const ms = [...document.querySelectorAll("[data-testid=group-table] tbody td[data-ms]")].map((td) => Number(td.getAttribute("data-ms")));
      return ms.length === 50 && ms.every((x, i) => i === 0 || ms[i - 1] <= x);
    })()`);
    // Filters: every node completed, none failed.
    await table.getByRole("button", { name: /^completed 5,000$/ }).click();
    await pager.filter({ hasText: "of 5,000" }).waitFor();
    assert.equal(await table.getByRole("button", { name: /^failed 0$/ }).isDisabled(), true);
    assert.equal(await table.locator('tbody .badge[data-status="COMPLETED"]').count(), 50);
    await shot(p, "group-table");
    // A row opens the node panel: inc(i) is node 2i, its output i + 1.
    const row = table.locator("tbody tr[data-node]").nth(3);
    const nodeId = Number(await row.getAttribute("data-node"));
    await row.click();
    await p.getByTestId("node-output").filter({ hasText: String(nodeId / 2 + 1) }).waitFor();
    assert.equal(await p.getByTestId("node-output").textContent(), String(nodeId / 2 + 1));
    assert.match((await p.locator(".panel").textContent()) ?? "", new RegExp(`node ${nodeId} · electron`));
    assert.equal(await table.locator(`tr[data-node="${nodeId}"][aria-selected="true"]`).count(), 1);
    assert.match(p.url(), new RegExp(`node=${nodeId}`));
    await shot(p, "group-table-node-panel");
    // From the keyboard: Enter on a row.
    await table.locator("tbody tr[data-node]").nth(5).focus();
    const other = Number(await table.locator("tbody tr[data-node]").nth(5).getAttribute("data-node"));
    await p.keyboard.press("Enter");
    await p.getByTestId("node-output").filter({ hasText: String(other / 2 + 1) }).waitFor();
    // Closing the table keeps the graph.
    await table.getByRole("button", { name: "Close the group's table" }).click();
    await table.waitFor({ state: "detached" });
    await group(p, "inc").waitFor();
    await p.context().close();
  });

  it("moves a running grouped dispatch's counts before it ends, without drawing its nodes", async () => {
    const { dispatch, getResult } = await sdk();
    const { gated } = await flows();
    // 30 steps that finish when this test says so (a file each): 90 nodes, grouped.
    const gates = join(dataDir, "gates");
    mkdirSync(gates, { recursive: true });
    const release = (from: number, to: number) => {
      for (let i = from; i < to; i++) writeFileSync(join(gates, `release-${i}`), "");
    };
    const id = await dispatch(gated)(30, gates);
    const p = await page({ dark: true });
    await p.goto(`${ui.base}/dispatches/${id}`);
    const step = group(p, "step");
    const counts = step.getByTestId("group-counts");
    await counts.filter({ hasText: /running|pending/ }).waitFor();
    assert.doesNotMatch((await counts.textContent()) ?? "", /completed/);
    release(0, 10);
    await counts.filter({ hasText: /^10 completed · 20 (running|pending)/ }).waitFor();
    assert.equal(await p.locator(".dispatch-head .badge").getAttribute("data-status"), "RUNNING");
    await step.click();
    const table = p.getByTestId("group-table");
    await table.getByRole("button", { name: /^completed 10$/ }).waitFor();
    release(10, 20);
    await counts.filter({ hasText: /^20 completed · 10 (running|pending)/ }).waitFor();
    // The table follows too, and the group's bar.
    await table.getByRole("button", { name: /^completed 20$/ }).waitFor();
    assert.equal(await p.locator(".dispatch-head .badge").getAttribute("data-status"), "RUNNING");
    await shot(p, "grouped-running-dark");
    release(20, 30);
    assert.deepEqual((await getResult(id, { wait: true })).result, Array.from({ length: 30 }, (_, i) => i));
    await p.locator('.dispatch-head .badge[data-status="COMPLETED"]').waitFor();
    await counts.filter({ hasText: /^30 completed$/ }).waitFor();
    await table.getByRole("button", { name: /^completed 30$/ }).waitFor();
    assert.equal(await p.locator(".vnode").count(), 0);
    await p.context().close();
  });

  it("draws a grouped dispatch node by node when asked, and groups it again", async () => {
    const p = await page();
    const { dispatch, getResult } = await sdk();
    const { wide } = await flows();
    const id = await dispatch(wide)(100);
    await getResult(id, { wait: true });
    await p.goto(`${ui.base}/dispatches/${id}`);
    await group(p, "inc").waitFor();
    await p.getByRole("button", { name: "Draw every node" }).click();
    await p.locator(".react-flow__node .vnode").nth(199).waitFor();
    assert.match(p.url(), /view=nodes/);
    await p.getByRole("button", { name: "Group repeated nodes" }).click();
    await group(p, "inc").waitFor();
    assert.equal(await p.locator(".vnode").count(), 0);
    await p.context().close();
  });

  it("logged no console errors and no uncaught exceptions", () => {
    assert.deepEqual(ui.consoleErrors, []);
  });
});
