// RsyncTransfer with the real rsync over a real OpenSSH server on loopback (packages/test-services).
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ensureInstalled, startSshd } from "@valence/test-services";
import { TransferError } from "../../errors.js";
import { transferContract } from "../testing.js";
import { RsyncTransfer } from "./rsync-transfer.js";
import { runTransfer } from "./run-transfer.js";

async function sshFixture() {
  await ensureInstalled("rsync");
  const dir = await mkdtemp(join(tmpdir(), "valence-rsync-"));
  const sshd = await startSshd(dir);
  const strategy = new RsyncTransfer({ port: sshd.port, identityFile: sshd.clientKeyFile, knownHostsFile: sshd.knownHostsFile });
  const remoteDir = join(dir, "remote");
  return { dir, sshd, strategy, remoteDir, close: async () => (await sshd.stop(), await rm(dir, { recursive: true, force: true })) };
}

transferContract("rsync", async () => {
  const f = await sshFixture();
  // The private key's body: nothing may print it.
  const keyLines = (await readFile(f.sshd.clientKeyFile, "utf8")).split("\n").filter((l) => l && !l.startsWith("-----"));
  return {
    strategy: f.strategy,
    address: (name) => `${f.sshd.username}@127.0.0.1:${f.remoteDir}/${name}`,
    deniedAddress: (name) => `no-such-user-${process.pid}@127.0.0.1:${f.remoteDir}/${name}`,
    secrets: keyLines,
    close: f.close,
  };
});

describe("RsyncTransfer", () => {
  let f: Awaited<ReturnType<typeof sshFixture>>;
  before(async () => (f = await sshFixture()));
  after(async () => f?.close());

  test("the host key is checked: a known_hosts with another key for the host fails the transfer", async () => {
    const strategy = new RsyncTransfer({ port: f.sshd.port, identityFile: f.sshd.clientKeyFile, knownHostsFile: f.sshd.wrongKnownHostsFile });
    const error = await runTransfer({ from: `${f.sshd.username}@127.0.0.1:/etc/hostname`, to: join(f.dir, "h"), order: "before", strategy }).catch((e: unknown) => e);
    assert.ok(error instanceof TransferError, String(error));
    assert.match(error.message, /rsync .*exited with \d+: .*Host key verification failed/s);
  });

  test("a remote directory that does not exist yet is made for an upload (--mkpath)", async () => {
    const source = join(f.dir, "up.txt");
    await writeFile(source, "deep");
    const remote = join(f.remoteDir, "a", "b", "c", "up.txt");
    await runTransfer({ from: source, to: `${f.sshd.username}@127.0.0.1:${remote}`, order: "after", strategy: f.strategy });
    assert.equal(await readFile(remote, "utf8"), "deep");
  });

  test("an rsync binary that is not there fails with how to install it", async () => {
    const strategy = new RsyncTransfer({ rsync: "/nonexistent/rsync", port: f.sshd.port });
    const error = await runTransfer({ from: `${f.sshd.username}@127.0.0.1:/etc/hostname`, to: join(f.dir, "n"), order: "before", strategy }).catch((e: unknown) => e);
    assert.ok(error instanceof TransferError);
    assert.match(error.message, /cannot run rsync .*apt-get install rsync/);
  });

  test("bad options and addresses are refused", () => {
    assert.throws(() => new RsyncTransfer({ port: 70000 }), /port must be an integer from 1 to 65535/);
    assert.throws(() => f.strategy.validate("/just/a/path"), /is not an rsync address \(write user@host:\/path\)/);
    assert.doesNotThrow(() => f.strategy.validate("host:relative/path"));
    assert.doesNotThrow(() => f.strategy.validate("me@[::1]:/srv/x"));
  });
});
