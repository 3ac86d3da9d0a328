import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { ensureInstalled, requireExecutable } from "./install.js";
import { listenOnFreePort } from "./listen-on-free-port.js";
import { spawnService } from "./processes.js";
import { run } from "./run.js";
import { ServiceStartError } from "./service-start-error.js";
import type { StartOptions } from "./start-options.js";

/** A running OpenSSH server on loopback that accepts one generated client key. */
export interface Sshd {
  readonly host: "127.0.0.1";
  readonly port: number;
  /** The user the client key logs in as: the user running the tests (root in CI). */
  readonly username: string;
  /** Private key (ed25519, no passphrase) accepted by this server. */
  readonly clientKeyFile: string;
  /** A known_hosts file with the line "[127.0.0.1]:PORT <host key>", for strict host key checking. */
  readonly knownHostsFile: string;
  /** A known_hosts file naming the same host and port with a different key, to test mismatch handling. */
  readonly wrongKnownHostsFile: string;
  /** The server's public host key, as in a .pub file ("ssh-ed25519 AAAA… comment"). */
  readonly hostKeyPub: string;
  /** PIDs of the daemons, for callers that stop them later from another process. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

/** sshd is compiled with /run/sshd as its privilege separation directory; it exits 255 without it. */
const PRIVSEP_DIR = "/run/sshd";
const SSHD = "/usr/sbin/sshd";

/**
 * Starts `sshd -D` on 127.0.0.1 at a free port with keys, config and log in `dir/sshd`.
 * Resolves once the port accepts connections.
 *
 * @example
 *   const sshd = await startSshd(await mkdtemp(join(tmpdir(), "t-")));
 *   // ssh -i sshd.clientKeyFile -o UserKnownHostsFile=sshd.knownHostsFile -p sshd.port root@127.0.0.1
 *   await sshd.stop();
 */
export async function startSshd(dir: string, options: StartOptions = {}): Promise<Sshd> {
  await ensureInstalled("sshd");
  const base = join(dir, "sshd");
  mkdirSync(base, { recursive: true });
  if (process.getuid?.() === 0) mkdirSync(PRIVSEP_DIR, { recursive: true, mode: 0o755 });

  const keygen = requireExecutable("sshd", "ssh-keygen");
  const hostKey = join(base, "host_ed25519");
  const wrongHostKey = join(base, "wrong_host_ed25519");
  const clientKey = join(base, "client_ed25519");
  await Promise.all([
    generateKey(keygen, hostKey, "valence-test-host"),
    generateKey(keygen, wrongHostKey, "valence-test-wrong-host"),
    generateKey(keygen, clientKey, "valence-test-client"),
  ]);
  const authorizedKeys = join(base, "authorized_keys");
  const home = join(base, "home");
  mkdirSync(home, { recursive: true });
  writeFileSync(authorizedKeys, readFileSync(`${clientKey}.pub`), { mode: 0o644 });
  const hostKeyPub = readFileSync(`${hostKey}.pub`, "utf8").trim();
  const wrongHostKeyPub = readFileSync(`${wrongHostKey}.pub`, "utf8").trim();

  const { proc, port } = await listenOnFreePort({
    component: "sshd",
    name: "sshd",
    addressInUse: /Address already in use/,
    timeoutMs: 10_000,
    async spawn(port) {
      const config = join(base, "sshd_config");
      writeFileSync(config, sshdConfig({ port, hostKey, authorizedKeys, pidFile: join(base, "sshd.pid"), home }));
      const check = await run(SSHD, ["-t", "-f", config]);
      if (check.code !== 0) {
        throw new ServiceStartError("sshd", `sshd -t rejected ${config}`, { logTail: check.stderr || check.stdout });
      }
      const logFile = join(base, "sshd.log");
      const proc = spawnService({
        name: "sshd",
        command: SSHD,
        // -D: stay in the foreground so we own the PID; -e: log to stderr, i.e. our log file.
        args: ["-D", "-e", "-f", config],
        logFile,
        detached: options.detached ?? false,
      });
      return { proc, logFile };
    },
  });
  const knownHostsFile = join(base, "known_hosts");
  const wrongKnownHostsFile = join(base, "wrong_known_hosts");
  writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostKeyPub}\n`);
  writeFileSync(wrongKnownHostsFile, `[127.0.0.1]:${port} ${wrongHostKeyPub}\n`);
  return {
    host: "127.0.0.1",
    port,
    username: userInfo().username,
    clientKeyFile: clientKey,
    knownHostsFile,
    wrongKnownHostsFile,
    hostKeyPub,
    pids: [proc.pid],
    stop: () => proc.stop(),
  };
}

async function generateKey(keygen: string, file: string, comment: string): Promise<void> {
  const r = await run(keygen, ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  if (r.code !== 0) throw new ServiceStartError("sshd", `ssh-keygen for ${file} failed`, { logTail: r.stderr });
}

function sshdConfig(o: { port: number; hostKey: string; authorizedKeys: string; pidFile: string; home: string }): string {
  return [
    `Port ${o.port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${o.hostKey}`,
    `PidFile ${o.pidFile}`,
    `AuthorizedKeysFile ${o.authorizedKeys}`,
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    // PAM would need a configured stack and can refuse root; keys are all these tests use.
    "UsePAM no",
    // The temp dir and its parents are not owned the way StrictModes wants.
    "StrictModes no",
    // Remote commands see the test runner's PATH, so `node` resolves to the same binary. And a
    // login shell whose rc file runs `pyenv rehash` (these machines' root) must not wait on
    // pyenv's lock: a task cancelled during its shell's start-up leaves that lock behind, and
    // every later session would then wait 60 s for it.
    //
    // HOME is a directory of the test's own: the login shell then finds no rc file at all. On
    // these machines root's ~/.bashrc runs `pyenv init`, whose rehash takes a lock file; a shell
    // killed during its start-up (a cancel test) leaves the lock behind, and every later
    // session's stderr then begins with pyenv's complaint. Sessions still start in the user's
    // home directory (sshd changes to it), so relative paths mean what they always did.
    `SetEnv "PATH=${process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin"}" PYENV_REHASH_TIMEOUT=0 "HOME=${o.home}"`,
    // Executor tests open many short sessions at once; the default (10:30:100) drops some.
    "MaxStartups 100",
    "MaxSessions 100",
    "Subsystem sftp /usr/lib/openssh/sftp-server",
    "",
  ].join("\n");
}
