// SshConnection against a real OpenSSH server: commands, files, channel limits, drops, and every connect error.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { shellQuote } from "valence/executor";
import {
  HostKeyMismatchError,
  HostKeyUnknownError,
  SshAuthError,
  SshConnectError,
  SshConnection,
  SshConnectionLostError,
  SshKeyFileError,
  type SshTarget,
} from "./index.js";
import { connectionStats } from "./ssh-connection.js";
import { startTestHost, type TestHost } from "./test-support/sshd.js";

const LIMIT = { timeout: 30_000 };
let host: TestHost;
let target: SshTarget;
let conn: SshConnection;

before(async () => {
  host = await startTestHost();
  const { hostname, port, username, sshKeyFile, knownHostsFile } = host.options();
  target = { hostname, port, username, sshKeyFile, knownHostsFile };
  conn = SshConnection.shared(target);
});
after(async () => {
  await conn?.close();
  await host?.stop();
});

/** The error `promise` rejects with, asserting it is a `cls`. */
async function rejection<E extends Error>(promise: Promise<unknown>, cls: abstract new (...a: never[]) => E): Promise<E> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof cls, `expected ${cls.name}, got ${(error as Error).stack}`);
    return error;
  }
  assert.fail(`expected ${cls.name}, nothing was thrown`);
}

describe("SshConnection: commands and files", () => {
  test("exec returns the exit code and both outputs; a non-zero exit is a result", LIMIT, async () => {
    const script = "console.log(1 + 1); console.error('to stderr'); process.exitCode = 3";
    const r = await conn.exec(`node -e ${shellQuote(script)}`);
    assert.deepEqual(r, { code: 3, stdout: "2\n", stderr: "to stderr\n" });
  });

  test("a command killed by a signal reports the signal", LIMIT, async () => {
    const r = await conn.exec("kill -TERM $$");
    assert.equal(r.code, null);
    assert.equal(r.signal, "SIGTERM");
  });

  test("writeFile makes the parent directories, replaces atomically, and leaves no temp files", LIMIT, async () => {
    const dir = join(host.dir, "files", "a", "b");
    await conn.writeFile(`${dir}/x.txt`, "first");
    await conn.writeFile(`${dir}/x.txt`, Buffer.from("second ✓"));
    assert.equal(await conn.readFile(`${dir}/x.txt`), "second ✓");
    assert.deepEqual((await conn.exec(`ls -A ${shellQuote(dir)}`)).stdout, "x.txt\n");
  });

  test("readFile of a missing file is undefined; exists; remove is recursive and accepts a missing path", LIMIT, async () => {
    const dir = join(host.dir, "files", "tree");
    assert.equal(await conn.readFile(`${dir}/nope`), undefined);
    assert.equal(await conn.exists(dir), false);
    await conn.writeFile(`${dir}/deep/er/f`, "x");
    assert.equal(await conn.exists(`${dir}/deep/er/f`), true);
    await conn.remove(dir);
    assert.equal(await conn.exists(dir), false);
    await conn.remove(dir);
    await conn.writeFile(`${dir}/deep/again`, "y");
    assert.equal(await conn.readFile(`${dir}/deep/again`), "y", "a removed directory is made again");
  });

  test("uploadFile copies a local file byte for byte", LIMIT, async () => {
    const local = join(host.dir, "local.bin");
    const data = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(local, data);
    const remote = join(host.dir, "files", "up", "copy.bin");
    await conn.uploadFile(local, remote);
    assert.deepEqual(readFileSync(remote), data);
  });

  test("relative paths start at the remote home, for files and for commands alike", LIMIT, async () => {
    const rel = `.valence-ssh-test-${randomBytes(4).toString("hex")}`;
    try {
      await conn.writeFile(`${rel}/note.txt`, "from sftp");
      assert.equal((await conn.exec(`cat ${rel}/note.txt`)).stdout, "from sftp");
      // The user's home as the host knows it (the test sshd gives sessions a HOME variable of its own).
      const home = (await conn.exec(`getent passwd "$(id -un)" | cut -d: -f6`)).stdout.trim();
      assert.equal((await conn.exec("pwd")).stdout.trim(), home);
    } finally {
      await conn.remove(rel);
    }
  });

  test("30 commands at once queue for channels: never more than 8 open (MaxSessions 10 minus SFTP and a spare)", LIMIT, async () => {
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => conn.exec(`sleep 0.2; echo ${i}`)));
    results.forEach((r, i) => assert.equal(r.stdout, `${i}\n`));
    const { maxChannels } = connectionStats(conn);
    assert.ok(maxChannels <= 8 && maxChannels >= 2, `max channels open: ${maxChannels}`);
  });

  test("aborting a command closes its channel and rejects with the reason at once", LIMIT, async () => {
    const controller = new AbortController();
    const started = Date.now();
    const running = conn.exec("sleep 30", { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("no longer wanted")), 200);
    await assert.rejects(running, /no longer wanted/);
    assert.ok(Date.now() - started < 5000);
  });

  test("shared() gives one connection per user, host, port, key and known_hosts", () => {
    assert.equal(SshConnection.shared({ ...target }), conn);
    assert.notEqual(SshConnection.shared({ ...target, port: (target.port ?? 22) + 1 }), conn);
    assert.notEqual(SshConnection.shared({ ...target, username: "someone-else" }), conn);
  });
});

describe("SshConnection: drops", () => {
  test("a dropped connection fails the commands in flight with SshConnectionLostError, and the next command reconnects", LIMIT, async () => {
    const own = new SshConnection(target);
    try {
      await own.connect();
      const connects = connectionStats(own).connects;
      const long = own.exec("sleep 20");
      await new Promise((r) => setTimeout(r, 200));
      // $PPID of a session's shell is the sshd process serving this connection.
      const killer = own.exec("kill -KILL $PPID").catch((error: unknown) => error);
      const error = await rejection(long, SshConnectionLostError);
      assert.match(error.message, /closed/);
      await killer;
      assert.equal((await own.exec("echo again")).stdout, "again\n");
      assert.equal(connectionStats(own).connects, connects + 1);
    } finally {
      await own.close();
    }
  });

  test("close() then use reconnects", LIMIT, async () => {
    const own = new SshConnection(target);
    await own.exec("true");
    await own.close();
    assert.equal((await own.exec("echo back")).stdout, "back\n");
    await own.close();
  });

  test("an idle connection does not keep the process alive", LIMIT, async () => {
    const index = fileURLToPath(new URL("./index.ts", import.meta.url));
    const script =
      `import { SshConnection } from ${JSON.stringify(index)};\n` +
      `const c = SshConnection.shared(${JSON.stringify(target)});\n` +
      `console.log((await c.exec("echo hi")).stdout.trim());\n`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const code = await new Promise((resolve) => child.on("exit", (c, s) => resolve(c ?? s)));
    clearTimeout(timer);
    assert.equal(code, 0, out);
    assert.equal(out.trim(), "hi");
  });
});

describe("SshConnection: connect errors name what to fix", () => {
  test("a changed host key: HostKeyMismatchError with both fingerprints and the ssh-keygen -R command", LIMIT, async () => {
    const error = await rejection(new SshConnection({ ...target, knownHostsFile: host.sshd.wrongKnownHostsFile }).connect(), HostKeyMismatchError);
    const file = host.sshd.wrongKnownHostsFile;
    assert.equal(error.fingerprint, keygenFingerprint(host.sshd.hostKeyPub));
    assert.notEqual(error.expectedFingerprint, error.fingerprint);
    assert.match(error.message, /has CHANGED/);
    assert.ok(error.message.includes(error.fingerprint) && error.message.includes(error.expectedFingerprint), error.message);
    assert.ok(error.message.includes(`ssh-keygen -R '[127.0.0.1]:${target.port}' -f ${file}`), error.message);
    assert.equal(error.code, "SSH_HOST_KEY_MISMATCH");
  });

  test("an unknown host: HostKeyUnknownError with the fingerprint and the ssh-keyscan command", LIMIT, async () => {
    const empty = join(host.dir, "empty_known_hosts");
    writeFileSync(empty, "");
    const error = await rejection(new SshConnection({ ...target, knownHostsFile: empty }).connect(), HostKeyUnknownError);
    assert.equal(error.fingerprint, keygenFingerprint(host.sshd.hostKeyPub));
    assert.ok(error.message.includes(error.fingerprint), error.message);
    assert.ok(error.message.includes(`ssh-keyscan -p ${target.port} 127.0.0.1 >> ${empty}`), error.message);
    const missing = await rejection(new SshConnection({ ...target, knownHostsFile: join(host.dir, "nope") }).connect(), HostKeyUnknownError);
    assert.match(missing.message, /does not exist yet/);
  });

  test("the ssh-keyscan line the message suggests is accepted afterwards, hashed entries too", LIMIT, async () => {
    const file = join(host.dir, "scanned_known_hosts");
    const scanned = execFileSync("ssh-keyscan", ["-p", String(target.port), "127.0.0.1"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    writeFileSync(file, scanned);
    execFileSync("ssh-keygen", ["-q", "-H", "-f", file], { stdio: "ignore" });
    const own = new SshConnection({ ...target, knownHostsFile: file });
    await own.connect();
    await own.close();
  });

  test("a key file that is missing, public, or a directory: SshKeyFileError naming it", LIMIT, async () => {
    const missing = join(host.dir, "no_such_key");
    const e1 = await rejection(new SshConnection({ ...target, sshKeyFile: missing }).connect(), SshKeyFileError);
    assert.match(e1.message, new RegExp(`${missing} does not exist: set sshKeyFile`));
    const e2 = await rejection(new SshConnection({ ...target, sshKeyFile: `${host.sshd.clientKeyFile}.pub` }).connect(), SshKeyFileError);
    assert.match(e2.message, /is a public key: set sshKeyFile to the private key/);
    const e3 = await rejection(new SshConnection({ ...target, sshKeyFile: host.dir }).connect(), SshKeyFileError);
    assert.match(e3.message, /is a directory/);
  });

  test("a key the server does not accept: SshAuthError saying where the public key must go", LIMIT, async () => {
    const other = join(host.dir, "other_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const error = await rejection(new SshConnection({ ...target, sshKeyFile: other }).connect(), SshAuthError);
    assert.match(error.message, /refused the key .*other_key for user/);
    assert.match(error.message, /authorized_keys/);
  });

  test("a closed port: SshConnectError 'connection refused', at once", LIMIT, async () => {
    const port = await closedPort();
    const started = Date.now();
    const error = await rejection(new SshConnection({ ...target, port }).connect(), SshConnectError);
    assert.match(error.message, new RegExp(`cannot connect to 127\\.0\\.0\\.1 port ${port}: connection refused`));
    assert.ok(Date.now() - started < 2000);
  });

  test("a port that accepts but never speaks SSH: SshConnectError after connectTimeout, not a hang", LIMIT, async () => {
    const silent = await listenSilently();
    try {
      const started = Date.now();
      const error = await rejection(new SshConnection({ ...target, port: silent.port, connectTimeout: 1 }).connect(), SshConnectError);
      assert.match(error.message, /no SSH handshake .* within 1 s/);
      assert.ok(Date.now() - started < 5000);
    } finally {
      await silent.close();
    }
  });

  test("an unknown host name: SshConnectError naming the DNS problem", LIMIT, async () => {
    const error = await rejection(new SshConnection({ ...target, hostname: "no-such-host.invalid" }).connect(), SshConnectError);
    assert.match(error.message, /host name no-such-host\.invalid is not known/);
  });

  test("a default key: ~/.ssh/id_ed25519 of HOME is used when sshKeyFile is unset", LIMIT, async () => {
    const home = join(host.dir, "home");
    mkdirSync(join(home, ".ssh"), { recursive: true });
    copyFileSync(host.sshd.clientKeyFile, join(home, ".ssh", "id_ed25519"));
    copyFileSync(host.sshd.knownHostsFile, join(home, ".ssh", "known_hosts"));
    const script =
      `import { SshConnection } from ${JSON.stringify(fileURLToPath(new URL("./index.ts", import.meta.url)))};\n` +
      `const c = new SshConnection({ hostname: "127.0.0.1", port: ${target.port} });\n` +
      `console.log((await c.exec("echo default-key")).stdout.trim()); await c.close();\n`;
    const env = { ...process.env, HOME: home, SSH_AUTH_SOCK: "" };
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env, encoding: "utf8", timeout: 20_000 });
    assert.equal(out.trim(), "default-key");
  });
});

function keygenFingerprint(pub: string): string {
  const file = join(host.dir, `fp-${randomBytes(3).toString("hex")}.pub`);
  writeFileSync(file, `${pub}\n`);
  return execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", file], { encoding: "utf8" }).split(" ")[1] as string;
}

/** A port nothing listens on: bound, read, closed. */
async function closedPort(): Promise<number> {
  const { port, close } = await listenSilently();
  await close();
  return port;
}

async function listenSilently(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<import("node:net").Socket>();
  const server: Server = createServer((s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
