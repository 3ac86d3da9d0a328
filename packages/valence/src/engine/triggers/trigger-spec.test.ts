import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { TriggerSpecError } from "../../errors.js";
import { checkWatchedDirectory, normalizeSpec, parseDuration } from "./trigger-spec.js";

const dir = mkdtempSync(join(tmpdir(), "valence-trigger-spec-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function refused(fn: () => unknown, field: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TriggerSpecError, `a TriggerSpecError, not ${String(e)}`);
    assert.equal(e.field, field);
    assert.equal(e.code, "TRIGGER_SPEC");
    assert.match(e.message, message);
    return true;
  });
}

describe("trigger specs", () => {
  it("reads durations in ms, s, m, h, d, w and plain milliseconds", () => {
    assert.equal(parseDuration("30s"), 30_000);
    assert.equal(parseDuration("1.5h"), 5_400_000);
    assert.equal(parseDuration("2d"), 172_800_000);
    assert.equal(parseDuration("1500ms"), 1500);
    assert.equal(parseDuration(60_000), 60_000);
  });

  it("refuses an interval that is not a duration, or is under a second, naming `every`", () => {
    refused(() => normalizeSpec({ every: "soon" }, dir), "every", /every: "soon" is not a duration; write a number and a unit/);
    refused(() => normalizeSpec({ every: "30" }, dir), "every", /not a duration/);
    refused(() => normalizeSpec({ every: "100ms" }, dir), "every", /100 ms, shorter than the shortest interval, 1s/);
  });

  it("refuses a cron expression croner refuses, with croner's reason", () => {
    refused(() => normalizeSpec({ cron: "61 * * * *" }, dir), "cron", /cron: "61 \* \* \* \*" is refused by croner: CronPattern: Invalid value for minute: 61/);
    refused(() => normalizeSpec({ cron: "every day" }, dir), "cron", /refused by croner: .*exactly five or six space separated parts/);
    refused(() => normalizeSpec({ cron: "0 0 30 2 *" }, dir), "cron", /never runs again/);
    refused(() => normalizeSpec({ cron: "* * * * *", timezone: "Mars/Olympus" }, dir), "cron", /the time zone "Mars\/Olympus" is refused: Invalid time zone/);
  });

  it("needs exactly one of watch, every and cron", () => {
    refused(() => normalizeSpec({} as never, dir), "spec", /exactly one of watch .* got none/);
    refused(() => normalizeSpec({ every: "1s", cron: "* * * * *" } as never, dir), "spec", /got every and cron/);
  });

  it("resolves a watched directory against the caller's directory; the server checks it exists", () => {
    assert.deepEqual(normalizeSpec({ watch: "inbox" }, dir), { kind: "watch", spec: join(dir, "inbox"), everyMs: null, timezone: null });
    refused(() => checkWatchedDirectory(join(dir, "inbox")), "watch", /the directory .*inbox does not exist on the server's machine; create it first/);
    writeFileSync(join(dir, "file"), "x");
    refused(() => checkWatchedDirectory(join(dir, "file")), "watch", /is a file, not a directory/);
    checkWatchedDirectory(dir);
  });

  it("keeps an interval as written, and one in ms with its unit, so that it reads back as the same duration", () => {
    assert.deepEqual(normalizeSpec({ every: " 5m " }, dir), { kind: "every", spec: "5m", everyMs: 300_000, timezone: null });
    const ms = normalizeSpec({ every: 60_000 }, dir);
    assert.deepEqual(ms, { kind: "every", spec: "60000ms", everyMs: 60_000, timezone: null });
    assert.deepEqual(normalizeSpec({ every: ms.spec }, dir), ms);
  });

  it("keeps a valid cron expression and its time zone", () => {
    assert.deepEqual(normalizeSpec({ cron: " */5 * * * * ", timezone: "Europe/Paris" }, dir), { kind: "cron", spec: "*/5 * * * *", everyMs: null, timezone: "Europe/Paris" });
  });
});
