// Waiting on the processes tasks report (they write their pid to a file) in the dispatch tests.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { isAlive } from "@valence/test-services";

/** The pid a task wrote to `file`, once it has (within 10 s). */
export async function waitForPid(file: string): Promise<number> {
  for (let i = 0; i < 400; i++) {
    if (existsSync(file)) {
      const text = readFileSync(file, "utf8");
      if (text) return Number(text);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the task never wrote ${file}`);
}

/** Fails unless process `pid` is gone within `ms`. */
export async function waitUntilGone(pid: number, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (isAlive(pid)) {
    assert.ok(Date.now() < until, `process ${pid} still runs ${ms} ms later`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
