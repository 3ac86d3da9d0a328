import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSshd, type Sshd } from "./index.js";

function ssh(server: Sshd, knownHosts: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [
    "-i", server.clientKeyFile,
    "-o", `UserKnownHostsFile=${knownHosts}`,
    "-o", "StrictHostKeyChecking=yes",
    // Never prompt: a test must fail, not hang, when authentication goes wrong.
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-p", String(server.port),
    `${server.username}@${server.host}`,
    command,
  ];
  return new Promise((resolve) => {
    execFile("ssh", args, { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("startSshd", () => {
  let dir: string;
  let server: Sshd;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "valence-sshd-"));
    server = await startSshd(dir);
  });

  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs a remote command with the client key and strict host key checking", async () => {
    // The remote command is one string parsed again by the remote shell.
    const r = await ssh(server, server.knownHostsFile, `node -e 'console.log(1+1)'`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "2");
  });

  it("writes a known_hosts line for [127.0.0.1]:PORT with the host key", async () => {
    const { readFile } = await import("node:fs/promises");
    const line = (await readFile(server.knownHostsFile, "utf8")).trim();
    assert.equal(line, `[127.0.0.1]:${server.port} ${server.hostKeyPub}`);
  });

  it("makes ssh refuse the connection with the wrong known_hosts", async () => {
    const r = await ssh(server, server.wrongKnownHostsFile, "echo should-not-run");
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /should-not-run/);
    assert.match(r.stderr, /HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it("stops: the port no longer accepts connections", async () => {
    const { acceptsConnections } = await import("./ports.js");
    const other = await startSshd(join(dir, "second"));
    assert.notEqual(other.port, server.port);
    assert.equal(await acceptsConnections(other.port), true);
    await other.stop();
    // The probe above left sshd a pre-auth child holding the listening socket; stop kills it too.
    assert.equal(await acceptsConnections(other.port), false);
  });
});
