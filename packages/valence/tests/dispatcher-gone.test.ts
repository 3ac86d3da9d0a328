// getResult(id, { wait: true }) on an embedded dispatch whose process died must say so, not wait forever.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { getResult } from "../src/index.js";

it("reports a dispatch whose embedded dispatcher process has died", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./fixtures/dispatch-and-hang.ts", import.meta.url))], {
    env: { ...process.env, VALENCE_DATA_DIR: dataDir },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8");
  for await (const chunk of child.stdout) {
    out += chunk as string;
    if (out.includes("\n")) break;
  }
  const id = out.trim();
  assert.match(id, /^dsp_/);
  const running = await getResult(id, { statusOnly: true });
  assert.equal(running.status, "RUNNING");
  child.kill("SIGKILL");
  await once(child, "exit");
  await assert.rejects(getResult(id, { wait: true, pollMs: 20 }), {
    name: "DispatcherGoneError",
    message: new RegExp(`dispatch ${id} is RUNNING, but the process that ran it \\(pid ${child.pid}\\) has exited`),
  });
});
