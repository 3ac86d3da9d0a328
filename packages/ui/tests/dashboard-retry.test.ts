// A retry waiting out its backoff, in the node panel, in a real browser against a real server:
// the panel says which try failed and counts down to the next, shows that try's error, then
// follows the retry's own output (not the failed try's) once it begins. No timing thresholds:
// the backoff (8 s) only has to outlast opening the page.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { shot, useDashboardServer } from "./browser.js";

const ui = useDashboardServer(dataDir);

describe("a retry waiting out its backoff, in Chromium", () => {
  it("says 'retrying in N s' with the failed try's error, then follows the retry's output", async () => {
    const { dispatch, getResult } = await import("../../valence/src/index.js");
    const { stumbleFlow } = await import("./fixtures/workflows.js");
    const gate = join(dataDir, "retry-gate");
    const id = await dispatch(stumbleFlow)(gate);

    const p = await ui.page();
    await p.goto(`${ui.base}/dispatches/${id}?node=0`);
    const retrying = p.getByTestId("node-retrying");
    await retrying.waitFor();
    assert.match((await retrying.textContent()) ?? "", /^Try 1 failed\. Retrying in [1-8] s \(try 2 of 2\)\.$/);
    const error = p.getByTestId("node-error");
    assert.match((await error.textContent()) ?? "", /Error: the first try fails on purpose/);
    assert.equal(await p.getByRole("heading", { name: "Error of try 1" }).count(), 1);
    await shot(p, "node-retrying");

    // The retry begins: the countdown goes, and the output shown is the retry's alone.
    const stdout = p.getByTestId("node-stdout");
    await stdout.filter({ hasText: "try 2" }).waitFor({ timeout: 30_000 });
    assert.equal(await stdout.textContent(), "try 2\n");
    assert.equal(await retrying.count(), 0, "still says it is retrying once the retry runs");
    assert.equal(await error.count(), 0, "still shows the failed try's error while the retry runs");

    writeFileSync(gate, "");
    const result = await getResult(id, { wait: true });
    assert.equal(result.status, "COMPLETED");
    assert.equal(result.nodes[0]?.attempts, 2);
    await p.locator('.panel .badge[data-status="COMPLETED"]').waitFor();
    assert.equal(await stdout.textContent(), "try 2\n");
    await p.context().close();
    assert.deepEqual(ui.consoleErrors, []);
  });
});
