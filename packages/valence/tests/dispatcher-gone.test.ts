// getResult(id, { wait: true }) on an embedded dispatch whose process died must say so, not wait forever.
import { dataDir } from "./fixtures/env.js";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
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

it("reports it while the dead dispatcher is still a zombie (nobody has reaped it)", async () => {
  // `sh` starts the dispatcher and then becomes `sleep`, which never reaps it: killed, it stays a zombie.
  const fixture = fileURLToPath(new URL("./fixtures/dispatch-and-hang.ts", import.meta.url));
  const shell = spawn("sh", ["-c", `"$0" --import tsx "$1" & echo "pid $!"; exec sleep 60`, process.execPath, fixture], {
    env: { ...process.env, VALENCE_DATA_DIR: dataDir },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    let out = "";
    shell.stdout.setEncoding("utf8");
    for await (const chunk of shell.stdout) {
      out += chunk as string;
      if (/dsp_\w+\n/.test(out)) break;
    }
    const pid = Number(/pid (\d+)/.exec(out)?.[1]);
    const id = /(dsp_\w+)/.exec(out)?.[1] as string;
    process.kill(pid, "SIGKILL");
    let state = "";
    for (let i = 0; i < 500 && state !== "Z"; i++) {
      await new Promise((r) => setTimeout(r, 10));
      state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] ?? "";
    }
    assert.equal(state, "Z", "the killed dispatcher lingers as a zombie");
    await assert.rejects(getResult(id, { wait: true, pollMs: 20 }), { name: "DispatcherGoneError", message: /valence resume/ });
  } finally {
    shell.kill("SIGKILL");
  }
});
