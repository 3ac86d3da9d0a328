// The Triggers page in a real browser against a real server: a directory watch registered with
// trigger(), a real file written into its directory, and the page listing the trigger with its
// kind, spec, state and fires, its dispatches linking to their pages, Pause / Resume, and Remove.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { shot, useDashboardServer } from "./browser.js";

const ui = useDashboardServer(dataDir);

describe("the Triggers page, in Chromium", () => {
  it("lists a watch with its dispatches, links them to their pages, and pauses and resumes it", async () => {
    const { trigger, getResult } = await import("../../valence/src/index.js");
    const { measure } = await import("./fixtures/workflows.js");
    const inbox = join(dataDir, "inbox");
    mkdirSync(inbox);
    const id = await trigger(measure, { watch: inbox });

    const p = await ui.page();
    await p.goto(`${ui.base}/triggers`);
    const row = p.locator(`tr[data-trigger="${id}"]`);
    await row.waitFor();
    assert.equal(await row.locator("td").nth(1).textContent(), "Directory watch");
    assert.equal(await row.locator("td").nth(2).textContent(), inbox);
    assert.equal(await row.getByTestId("trigger-state").textContent(), "running");
    assert.equal(await row.locator("td").nth(4).textContent(), "never");

    writeFileSync(join(inbox, "seven.txt"), "1234567");
    await row.getByRole("link", { name: "measure" }).click();
    await p.waitForURL(`${ui.base}/triggers/${id}`);
    // The page follows the server's live events: the fire's dispatch shows up without a reload.
    const fire = p.locator("tr[data-fire]");
    await fire.first().waitFor({ timeout: 30_000 });
    const dispatchId = (await fire.first().getAttribute("data-fire")) as string;
    assert.equal((await getResult(dispatchId, { wait: true })).result, 7);
    await fire.locator('.badge[data-status="COMPLETED"]').waitFor();
    assert.equal(await fire.locator("td").nth(3).textContent(), join(inbox, "seven.txt"));
    assert.notEqual(await row.locator("td").nth(4).textContent(), "never");
    await shot(p, "triggers-page");

    await row.getByRole("button", { name: "Pause" }).click();
    await row.getByTestId("trigger-state").filter({ hasText: "paused" }).waitFor();
    const paused = (await fetch(`${ui.base}/api/v1/triggers/${id}`).then((r) => r.json())) as { trigger: { paused: boolean } };
    assert.equal(paused.trigger.paused, true);
    await row.getByRole("button", { name: "Resume" }).click();
    await row.getByTestId("trigger-state").filter({ hasText: "running" }).waitFor();

    await fire.getByRole("link", { name: dispatchId }).click();
    await p.waitForURL(`${ui.base}/dispatches/${dispatchId}`);
    await p.getByRole("heading", { name: "measure" }).first().waitFor();
    // The dispatch's page says which trigger fired it, for which file, and links back.
    const firedBy = p.getByTestId("fired-by");
    await firedBy.waitFor();
    assert.equal(await firedBy.locator("dd .mono").textContent(), join(inbox, "seven.txt"));
    assert.equal(await firedBy.getByRole("link").getAttribute("href"), `/triggers/${id}`);
    await p.locator(".react-flow__node").first().waitFor();
    await shot(p, "trigger-dispatch");

    // Removed from the page, after a confirmation: gone from the list and the server, its dispatch kept.
    await p.goto(`${ui.base}/triggers`);
    await row.getByRole("button", { name: "Remove…" }).click();
    const dialog = p.getByRole("dialog", { name: "Remove this trigger?" });
    await dialog.waitFor();
    assert.match((await dialog.textContent()) ?? "", new RegExp(`measure \\(${id}\\) stops firing`));
    await dialog.getByRole("button", { name: "Remove trigger" }).click();
    await row.waitFor({ state: "detached" });
    assert.equal((await fetch(`${ui.base}/api/v1/triggers/${id}`)).status, 404);
    assert.equal((await getResult(dispatchId)).result, 7, "the dispatch it made stays");
    await p.context().close();
    assert.deepEqual(ui.consoleErrors, []);
  });
});
