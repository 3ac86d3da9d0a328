// The task-stream timeline in a real browser (Debian's Chromium, playwright-core) against a real
// server with a real dispatch of local-executor tasks: the Timeline tab lists the lanes the
// tasks ran on (local workers), its bars are the stored start/end times of the nodes (the canvas
// mirrors them in a visually hidden table, and says which time range it shows), hovering a bar
// shows its details, clicking it opens the node panel. Screenshots go to test-artifacts/. No
// timing thresholds.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { shot, useDashboardServer } from "./browser.js";

const ui = useDashboardServer(dataDir);

const sdk = () => import("../../valence/src/index.js");
const flows = () => import("./fixtures/workflows.js");
const page = ui.page;

interface StoredNode {
  readonly nodeId: number;
  readonly name: string;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
}

describe("task-stream timeline in Chromium", () => {
  it("draws a bar per task on the lane it ran on, at its stored start and end; hover shows its details; a click opens its panel", async () => {
    const { dispatch, getResult } = await sdk();
    const { crunchAll } = await flows();
    const id = await dispatch(crunchAll)(12);
    const result = (await getResult(id, { wait: true })).result as number[];
    assert.deepEqual(result, Array.from({ length: 12 }, (_, i) => i * i));

    // What the store holds, through the server's own graph route.
    const graph = (await (await fetch(`${ui.base}/api/v1/dashboard/dispatches/${id}/graph`)).json()) as { nodes: StoredNode[] };
    const tasks = graph.nodes.filter((n) => n.name === "crunch");
    assert.equal(tasks.length, 12);
    const timeline = (await (await fetch(`${ui.base}/api/v1/dashboard/dispatches/${id}/timeline`)).json()) as { lanes: string[]; nodeId: number[] };
    assert.ok(timeline.lanes.length >= 1);
    for (const lane of timeline.lanes) assert.match(lane, /^local worker \d+$/);

    const p = await page();
    await p.goto(`${ui.base}/dispatches/${id}`);
    await p.getByRole("tab", { name: "Timeline" }).click();
    const canvas = p.getByTestId("timeline-canvas");
    await canvas.waitFor();
    await p.waitForFunction(() => Number(document.querySelector("[data-testid=timeline-canvas]")?.getAttribute("data-bars")) > 0);
    assert.match(p.url(), /tab=timeline/);

    // The lanes are listed, and each task's bar has the node's stored start and end.
    const lanes = await p.getByTestId("timeline-lanes").locator("li").allTextContents();
    assert.deepEqual(lanes, timeline.lanes);
    const bars = await p
      .getByTestId("timeline-bars")
      .locator("tbody tr")
      .evaluateAll((rows) =>
        rows.map((r) => ({
          node: Number(r.getAttribute("data-node")),
          start: Number(r.getAttribute("data-start")),
          end: Number(r.getAttribute("data-end")),
          lane: r.getAttribute("data-lane") ?? "",
        })),
      );
    const byNode = new Map(bars.map((b) => [b.node, b]));
    for (const t of tasks) {
      const bar = byNode.get(t.nodeId);
      assert.ok(bar, `a bar for node ${t.nodeId}`);
      assert.equal(bar.start, t.startedAt, `node ${t.nodeId} starts where the store says`);
      assert.equal(bar.end, t.endedAt, `node ${t.nodeId} ends where the store says`);
      assert.ok(timeline.lanes.includes(bar.lane as string), `node ${t.nodeId} is on a known lane (${bar.lane})`);
    }
    await shot(p, "timeline-local");

    // Hover the middle of one task's bar: the tooltip names it. Bars of one lane may overlap (a
    // task's start is when the dispatcher handed it to the pool): the one that started last is
    // drawn on top, and is what the pointer finds, so the test points at such a one.
    const bar = bars.reduce((a, b) => (b.start > a.start || (b.start === a.start && b.node > a.node) ? b : a));
    const target = tasks.find((t) => t.nodeId === bar.node) as StoredNode;
    const point = await canvas.evaluate(
      (el, b) => {
        const t0 = Number(el.getAttribute("data-t0"));
        const t1 = Number(el.getAttribute("data-t1"));
        const label = Number(el.getAttribute("data-label-width"));
        const axis = Number(el.getAttribute("data-axis-height"));
        const row = Number(el.getAttribute("data-row-height"));
        const items = [...document.querySelectorAll("[data-testid=timeline-lanes] li")].map((li) => li.textContent ?? "");
        const plot = el.getBoundingClientRect().width - label;
        const mid = (b.start + b.end) / 2;
        return { x: label + ((mid - t0) / (t1 - t0)) * plot, y: axis + items.indexOf(b.lane) * row + row / 2 };
      },
      bar,
    );
    await canvas.hover({ position: point });
    const tip = p.getByTestId("timeline-tip");
    await tip.waitFor();
    const text = (await tip.textContent()) ?? "";
    assert.match(text, /crunch/);
    assert.match(text, new RegExp(`node ${target.nodeId}(?!\\d)`));
    assert.match(text, new RegExp(`lane: ${bar.lane}`));
    assert.match(text, /status: COMPLETED/);
    assert.match(text, /duration: /);
    await shot(p, "timeline-hover");

    // A click opens the node's panel.
    await canvas.click({ position: point });
    await p.waitForURL(new RegExp(`node=${target.nodeId}`));
    await p.getByRole("heading", { name: /crunch/ }).first().waitFor();

    // Zoom in and out with the buttons: the shown range narrows, then "Show all" brings it back.
    const span = async () => canvas.evaluate((el) => Number(el.getAttribute("data-t1")) - Number(el.getAttribute("data-t0")));
    const whole = await span();
    await p.getByRole("button", { name: "Zoom in" }).click();
    assert.ok((await span()) < whole, "zoomed in");
    await p.getByRole("button", { name: "Show all" }).click();
    assert.equal(await span(), whole);

    assert.deepEqual(ui.consoleErrors, []);
    await p.context().close();
  });
});
