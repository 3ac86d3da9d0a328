// End to end with the executor named "ssh": the plugin registry finds the installed
// valence-executor-ssh package (its built dist/) and builds it from the config file's
// [executors.ssh] section, as a user's `valence.toml` would configure it.
import { configFile } from "./test-support/env.js";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { after, before, test } from "node:test";
import { dispatch, getResult } from "valence";
import { startTestHost, type TestHost } from "./test-support/sshd.js";
import * as named from "./test-support/named-workflows.js";

const LIMIT = { timeout: 30_000 };
let host: TestHost;

before(async () => {
  host = await startTestHost();
  const o = host.options();
  writeFileSync(
    configFile,
    [
      "[executors.ssh]",
      `hostname = ${JSON.stringify(o.hostname)}`,
      `port = ${o.port}`,
      `username = ${JSON.stringify(o.username)}`,
      `sshKeyFile = ${JSON.stringify(o.sshKeyFile)}`,
      `knownHostsFile = ${JSON.stringify(o.knownHostsFile)}`,
      `remoteWorkdir = ${JSON.stringify(o.remoteWorkdir)}`,
      "",
    ].join("\n"),
  );
});
after(async () => {
  await host?.stop();
});

test("`valence executors` lists ssh from the npm package, with the config's options", LIMIT, () => {
  const cli = createRequire(import.meta.url).resolve("valence/package.json").replace(/package\.json$/, "bin/valence.js");
  const out = execFileSync(process.execPath, [cli, "executors"], { encoding: "utf8", env: process.env });
  const line = out.split("\n").find((l) => /^ssh\s/.test(l));
  assert.ok(line, out);
  assert.match(line, /npm:valence-executor-ssh@0\.1\.0/);
  assert.match(line, new RegExp(`"port":${host.sshd.port}`));
});

test("a workflow whose electrons say executor: \"ssh\" runs on the configured host", LIMIT, async () => {
  const result = await getResult<number>(await dispatch(named.workflow)(3, 4), { wait: true });
  assert.equal(result.status, "COMPLETED", String(result.error?.message));
  assert.equal(result.result, 28);
  for (const node of result.nodes.filter((n) => n.kind === "electron")) assert.equal(node.executor, "ssh");
  // The host's working dir (this machine, over ssh) received the runner and the bundle (runners need no task directories).
  assert.deepEqual(readdirSync(host.options().remoteWorkdir as string).map((f) => f.replace(/-[0-9a-f]+\.mjs$/, "")).sort(), ["bundles", "valence-task"]);
});
