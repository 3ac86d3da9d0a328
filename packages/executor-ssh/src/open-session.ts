/**
 * Opens one authenticated SSH connection, or fails with the error that says
 * what to fix: the key file, the host key, the credentials, the network.
 * Every failure is bounded by the connect timeout: nothing here can hang.
 */
import { readFile } from "node:fs/promises";
import { connect as tcpConnect, type Socket } from "node:net";
import type { Client, ConnectConfig } from "ssh2";
import {
  HostKeyMismatchError,
  HostKeyUnknownError,
  SshAuthError,
  SshConnectError,
  SshError,
  SshKeyFileError,
} from "./errors.js";
import { checkHostKey, entryFingerprint, fingerprint, keyTypeOf, parseKnownHosts, preferredAlgorithms, type KnownHostEntry } from "./known-hosts.js";
import { loadSsh2 } from "./load-ssh2.js";
import type { ResolvedTarget } from "./ssh-target.js";

export interface OpenSession {
  readonly client: Client;
  readonly sock: Socket;
}

/** TCP keepalive probes find a dead peer (a NAT that forgot us) without ssh2 timers holding the process open. */
const TCP_KEEPALIVE_MS = 15_000;

export async function openSession(target: ResolvedTarget): Promise<OpenSession> {
  const deadline = Date.now() + target.connectTimeoutMs;
  const [auth, knownHosts] = await Promise.all([readCredentials(target), readKnownHosts(target.knownHostsFile)]);
  const sock = await connectTcp(target);
  try {
    const client = await handshake(target, sock, auth, knownHosts, Math.max(1, deadline - Date.now()));
    return { client, sock };
  } catch (error) {
    sock.destroy();
    throw error;
  }
}

interface Credentials {
  readonly privateKey?: Buffer;
  readonly keyFile?: string;
  readonly agent?: string;
}

async function readCredentials(target: ResolvedTarget): Promise<Credentials> {
  const { parseKey } = loadSsh2().utils;
  const agent = target.explicitKeyFile ? undefined : process.env["SSH_AUTH_SOCK"] || undefined;
  for (const file of target.keyFiles) {
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && !target.explicitKeyFile) continue;
      throw new SshKeyFileError(target.destination, keyFileProblem(file, code), { cause: error });
    }
    const parsed = parseKey(data);
    if (parsed instanceof Error) {
      const why = /encrypted|passphrase/i.test(parsed.message)
        ? "is protected by a passphrase, which the ssh executor cannot ask for: use a key without one, or load it into ssh-agent and leave sshKeyFile unset"
        : `is not a private key ssh2 can read (${parsed.message})`;
      throw new SshKeyFileError(target.destination, `ssh key file ${file} ${why}`);
    }
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key?.isPrivateKey()) {
      throw new SshKeyFileError(
        target.destination,
        `ssh key file ${file} is a public key: set sshKeyFile to the private key (the same name without .pub)`,
      );
    }
    return { privateKey: data, keyFile: file, agent };
  }
  if (agent) return { agent };
  throw new SshKeyFileError(
    target.destination,
    `no ssh key to log in to ${target.destination} with: neither ${target.keyFiles.join(" nor ")} exists and no ssh-agent is running. ` +
      "Set sshKeyFile to your private key, or create one with `ssh-keygen -t ed25519` and add its .pub to the host's ~/.ssh/authorized_keys",
  );
}

function keyFileProblem(file: string, code: string | undefined): string {
  switch (code) {
    case "ENOENT":
      return `ssh key file ${file} does not exist: set sshKeyFile to the path of your private key`;
    case "EACCES":
    case "EPERM":
      return `ssh key file ${file} cannot be read by this user (permission denied): check its owner and mode (chmod 600)`;
    case "EISDIR":
      return `ssh key file ${file} is a directory: set sshKeyFile to the private key file inside it`;
    default:
      return `ssh key file ${file} cannot be read (${code ?? "unknown error"})`;
  }
}

interface KnownHosts {
  readonly entries: readonly KnownHostEntry[];
  /** Why the file contributed nothing, for the unknown-key message. */
  readonly note: string;
}

async function readKnownHosts(file: string): Promise<KnownHosts> {
  try {
    return { entries: parseKnownHosts(await readFile(file, "utf8")), note: "" };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const note = code === "ENOENT" ? " (the file does not exist yet)" : ` (the file cannot be read: ${code ?? String(error)})`;
    return { entries: [], note };
  }
}

function connectTcp(target: ResolvedTarget): Promise<Socket> {
  const { hostname, port, destination, connectTimeoutMs } = target;
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ host: hostname, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(
        new SshConnectError(
          destination,
          `cannot connect to ${hostname} port ${port}: no answer within ${connectTimeoutMs / 1000} s. ` +
            "Is the host up, the hostname and port right, and no firewall in the way? (connectTimeout sets the wait)",
        ),
      );
    }, connectTimeoutMs);
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.removeAllListeners("error");
      sock.setNoDelay(true);
      sock.setKeepAlive(true, TCP_KEEPALIVE_MS);
      resolve(sock);
    });
    sock.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new SshConnectError(destination, tcpProblem(hostname, port, error), { cause: error }));
    });
  });
}

function tcpProblem(hostname: string, port: number, error: NodeJS.ErrnoException): string {
  const where = `${hostname} port ${port}`;
  switch (error.code) {
    case "ECONNREFUSED":
      return `cannot connect to ${where}: connection refused. Nothing listens there: is sshd running on the host, and is the port right?`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return `cannot connect to ${where}: the host name ${hostname} is not known (DNS). Check hostname`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `cannot connect to ${where}: no route to the host (${error.code}). Check the hostname and the network`;
    case "ETIMEDOUT":
      return `cannot connect to ${where}: timed out. Is the host up, and no firewall in the way?`;
    default:
      return `cannot connect to ${where}: ${error.message}`;
  }
}

function handshake(target: ResolvedTarget, sock: Socket, auth: Credentials, knownHosts: KnownHosts, timeoutMs: number): Promise<Client> {
  const { Client } = loadSsh2();
  const { hostname, port, destination } = target;
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKeyError: SshError | undefined;
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      client.removeAllListeners();
      // A late 'error' from a dying client must not become an uncaught exception.
      client.on("error", () => {});
      client.end();
      reject(error);
    };

    const hostVerifier = (keyBlob: Buffer): boolean => {
      const verdict = checkHostKey(knownHosts.entries, hostname, port, keyBlob);
      const type = keyTypeOf(keyBlob);
      const print = fingerprint(keyBlob);
      const file = target.knownHostsFile;
      switch (verdict.kind) {
        case "trusted":
          return true;
        case "unknown":
          hostKeyError = new HostKeyUnknownError(destination, hostname, port, file, type, print, verdict.knownTypes, knownHosts.note);
          return false;
        case "mismatch":
          hostKeyError = new HostKeyMismatchError(destination, hostname, port, file, type, print, entryFingerprint(verdict.entry), verdict.entry.line);
          return false;
        case "revoked":
          hostKeyError = new HostKeyMismatchError(destination, hostname, port, file, type, print, print, verdict.entry.line, true);
          return false;
        default:
          return verdict satisfies never;
      }
    };

    const preferred = preferredAlgorithms(knownHosts.entries, hostname, port);
    const config: ConnectConfig = {
      sock,
      username: target.username,
      hostVerifier,
      readyTimeout: timeoutMs,
      ...(auth.privateKey ? { privateKey: auth.privateKey } : {}),
      ...(auth.agent ? { agent: auth.agent } : {}),
      ...(preferred.length ? { algorithms: { serverHostKey: { remove: preferred, prepend: preferred } as never } } : {}),
    };

    client.once("ready", () => {
      if (settled) return;
      settled = true;
      client.removeAllListeners("error");
      client.removeAllListeners("close");
      resolve(client);
    });
    client.on("error", (error: Error & { level?: string }) => {
      if (hostKeyError) return fail(hostKeyError);
      fail(handshakeProblem(target, auth, error));
    });
    client.on("close", () => {
      fail(
        hostKeyError ??
          new SshConnectError(
            destination,
            `${destination} closed the connection during the SSH handshake: is port ${port} an SSH server, and does its log say why (MaxStartups, AllowUsers, a firewall)?`,
          ),
      );
    });
    try {
      client.connect(config);
    } catch (error) {
      fail(new SshConnectError(destination, `cannot start an SSH connection to ${destination}: ${(error as Error).message}`, { cause: error }));
    }
  });
}

function handshakeProblem(target: ResolvedTarget, auth: Credentials, error: Error & { level?: string }): SshError {
  const { destination, hostname, port, username } = target;
  switch (error.level) {
    case "client-authentication": {
      const offered = [auth.keyFile && `the key ${auth.keyFile}`, auth.agent && "the keys of ssh-agent"].filter(Boolean).join(" and ");
      const keyFile = auth.keyFile ?? "~/.ssh/id_ed25519";
      return new SshAuthError(
        destination,
        `${destination} refused ${offered} for user ${username}: add the public key to ~${username}/.ssh/authorized_keys on ${hostname} ` +
          `(\`ssh-copy-id -i ${keyFile} -p ${port} ${username}@${hostname}\`), or set username / sshKeyFile to ones it accepts`,
        { cause: error },
      );
    }
    case "client-timeout":
      return new SshConnectError(
        destination,
        `no SSH handshake from ${hostname} port ${port} within ${target.connectTimeoutMs / 1000} s: is that port an SSH server? (connectTimeout sets the wait)`,
        { cause: error },
      );
    default:
      return new SshConnectError(destination, `SSH handshake with ${destination} failed: ${error.message}`, { cause: error });
  }
}
