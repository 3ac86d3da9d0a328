// The result cache in the dashboard, in a real browser against a real server: a dispatch whose
// task reused an earlier run's result says so in the graph and the node panel, links to the
// node that made it, and shows the electron's cache option.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { shot, useDashboardServer } from "./browser.js";

const ui = useDashboardServer(dataDir);

describe("a cached result, in Chromium", () => {
  it("marks the reused node in the graph, and its panel links to the dispatch and node that made it", async () => {
    const { dispatch, getResult } = await import("../../valence/src/index.js");
    const { cachedFlow } = await import("./fixtures/workflows.js");
    const first = await dispatch(cachedFlow)(12);
    const made = await getResult(first, { wait: true });
    assert.equal(made.result, 144);
    assert.equal(made.nodes[0]?.cachedFrom, undefined);
    const second = await dispatch(cachedFlow)(12);
    const reused = await getResult(second, { wait: true });
    assert.equal(reused.result, 144);
    assert.deepEqual(reused.nodes[0]?.cachedFrom, { dispatchId: first, nodeId: 0 }, "the second dispatch went through the server's runner to the cache");
    assert.equal(reused.nodes[0]?.stdout, "", "it did not run, so it printed nothing");

    const p = await ui.page();
    await p.goto(`${ui.base}/dispatches/${second}?node=0`);
    const note = p.getByTestId("cached-from");
    await note.waitFor();
    assert.equal(await note.textContent(), `Cached: reused the result of ${first}, node 0; it did not run.`);
    assert.match((await p.locator(".panel").textContent()) ?? "", /Cachekept for 1 h/);
    assert.match((await p.locator('.react-flow__node .vnode[data-name="slowSquare"] .vnode-meta').textContent()) ?? "", /^local · cached$/);
    await shot(p, "node-cached");

    // The link opens the node that made the result: it ran, and printed.
    await note.getByRole("link").click();
    await p.waitForURL(new RegExp(`/dispatches/${first}\\?node=0`));
    await p.getByTestId("node-stdout").filter({ hasText: "squaring 12" }).waitFor();
    assert.equal(await p.getByTestId("cached-from").count(), 0);
    assert.equal(await p.locator('.react-flow__node .vnode[data-name="slowSquare"] .vnode-meta').textContent(), "local");
    await p.context().close();
    assert.deepEqual(ui.consoleErrors, []);
  });
});
