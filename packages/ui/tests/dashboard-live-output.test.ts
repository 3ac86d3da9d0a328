// A running task's output in the node panel, in a real browser (Debian's Chromium,
// playwright-core) against a real server: a task prints two lines and a warning, then waits
// for a gate file. The panel shows what it printed while it waits (polling the output route
// with `after` = the last `next`), marked live; closed, it stops asking; once the gate opens
// and the task ends, it shows the whole output and the live note goes. No timing thresholds.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Page } from "playwright-core";
import { shot, useDashboardServer } from "./browser.js";

const ui = useDashboardServer(dataDir);

const sdk = () => import("../../valence/src/index.js");
const flows = () => import("./fixtures/workflows.js");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const graphNode = (p: Page, name: string) => p.locator(`.react-flow__node .vnode[data-name="${name}"]`);

/** The page's calls of the output route for `id`'s node 0: the `after` each asked with, and the reply's `next` and `ended`. */
function recordOutputCalls(p: Page, id: string) {
  const calls: Array<{ after: string | null; next?: number; ended?: boolean }> = [];
  const path = `/api/v1/dispatches/${id}/nodes/0/output`;
  p.on("request", (r) => {
    const u = new URL(r.url());
    if (u.pathname === path) calls.push({ after: u.searchParams.get("after") });
  });
  p.on("response", (r) => {
    const u = new URL(r.url());
    if (u.pathname !== path) return;
    const call = calls.findLast((c) => c.next === undefined && c.after === u.searchParams.get("after"));
    void r.json().then(
      (body: { next: number; ended: boolean }) => {
        if (call) Object.assign(call, { next: body.next, ended: body.ended });
      },
      () => undefined,
    );
  });
  return calls;
}

describe("live task output in the node panel, in Chromium", () => {
  it("shows what a running task printed before its gate opens, stops asking when closed, and its whole output once it ends", async () => {
    const { dispatch, getResult } = await sdk();
    const { chatterFlow } = await flows();
    const gate = join(dataDir, "live-gate");
    const id = await dispatch(chatterFlow)(gate);

    const p = await ui.page();
    const calls = recordOutputCalls(p, id);
    await p.goto(`${ui.base}/dispatches/${id}`);
    await graphNode(p, "chatter").and(p.locator('[data-status="RUNNING"]')).waitFor();
    await graphNode(p, "chatter").click();
    const stdout = p.getByTestId("node-stdout");
    const stderr = p.getByTestId("node-stderr");
    const liveNote = p.getByTestId("node-output-live");
    await stdout.filter({ hasText: "line 2" }).waitFor();
    await stderr.filter({ hasText: "warn 1" }).waitFor();
    assert.equal(existsSync(gate), false, "the task is still waiting for its gate");
    assert.equal(await stdout.textContent(), "line 1\nline 2\n");
    assert.equal(await stderr.textContent(), "warn 1\n");
    assert.equal(await liveNote.isVisible(), true, "the panel says it follows the output live");
    // The node's stored details have no output yet: what the panel shows came from the live route.
    const details = (await (await fetch(`${ui.base}/api/v1/dashboard/dispatches/${id}/nodes/0`)).json()) as { status: string; stdout: string; stderr: string };
    assert.deepEqual(details, { ...details, status: "RUNNING", stdout: "", stderr: "" });
    // It asked from the start, then each time after the last reply's `next`.
    for (let i = 0; !calls.some((c) => c.after !== "0"); i++) {
      assert.ok(i < 600, `no call asked for newer chunks only: ${JSON.stringify(calls)}`);
      await sleep(50);
    }
    assert.equal(calls[0]?.after, "0");
    calls.forEach((c, i) => {
      const prev = calls[i - 1];
      if (prev?.next !== undefined) assert.equal(c.after, String(prev.next), `call ${i}: ${JSON.stringify(calls)}`);
    });
    await shot(p, "node-panel-live-output");

    // Closed, the panel stops asking; opened again, it reads from the start.
    await p.getByRole("button", { name: "Close node details" }).click();
    await p.locator(".panel").waitFor({ state: "detached" });
    const whenClosed = calls.length;
    await sleep(2500);
    assert.equal(calls.length, whenClosed, "no output calls while the panel is closed");
    await graphNode(p, "chatter").click();
    await stdout.filter({ hasText: "line 2" }).waitFor();
    assert.equal(await stdout.textContent(), "line 1\nline 2\n");
    assert.equal(calls[whenClosed]?.after, "0");
    await liveNote.waitFor();

    // The gate opens: the task prints its last line and ends; the panel shows the whole output, no longer live.
    writeFileSync(gate, "");
    await stdout.filter({ hasText: "after gate" }).waitFor();
    await liveNote.waitFor({ state: "detached" });
    assert.equal(await stdout.textContent(), "line 1\nline 2\nafter gate\n");
    assert.equal(await stderr.textContent(), "warn 1\n");
    await p.locator('.panel .badge[data-status="COMPLETED"]').waitFor();
    const result = await getResult(id, { wait: true });
    assert.equal(result.status, "COMPLETED");
    assert.equal(result.result, 7);
    // Once it ended, the panel asks no more.
    await p.getByTestId("node-output").filter({ hasText: "7" }).waitFor();
    const whenEnded = calls.length;
    await sleep(2500);
    assert.equal(calls.length, whenEnded, `no output calls after the end: ${JSON.stringify(calls.slice(whenEnded))}`);
    await shot(p, "node-panel-live-output-ended");
    await p.context().close();
  });

  it("logged no console errors and no uncaught exceptions", () => {
    assert.deepEqual(ui.consoleErrors, []);
  });
});
