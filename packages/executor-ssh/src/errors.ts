/**
 * What can go wrong reaching a host over SSH, one class per thing the user
 * fixes differently. Every message names the host, the file or the option to
 * change; `cause` keeps the underlying ssh2 or socket error.
 */
import { ValenceError } from "valence/executor";

/** The root of this package's errors; `destination` is `user@host:port`. */
export class SshError extends ValenceError {
  override readonly code: string = "SSH_ERROR";
  constructor(
    readonly destination: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The host's key is not in known_hosts. Nothing was sent to the host: the
 * message shows the key's fingerprint and the command that trusts it.
 */
export class HostKeyUnknownError extends SshError {
  override readonly code = "SSH_HOST_KEY_UNKNOWN";
  constructor(
    destination: string,
    readonly hostname: string,
    readonly port: number,
    readonly knownHostsFile: string,
    readonly keyType: string,
    readonly fingerprint: string,
    /** Key types known_hosts does list for this host, if any (the server offered another type). */
    readonly knownTypes: readonly string[],
    fileNote = "",
  ) {
    const others = knownTypes.length
      ? ` (it lists only ${knownTypes.join(", ")} keys for this host)`
      : fileNote;
    super(
      destination,
      `host key verification failed for ${hostLabel(hostname, port)}: its ${keyType} key is not in ${knownHostsFile}${others}.\n` +
        `The server offered the key ${fingerprint}. Check that this is the host's key (ask its administrator, or run ` +
        "`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on the host), then trust it with:\n" +
        `  ssh-keyscan -p ${port} ${hostname} >> ${knownHostsFile}`,
    );
  }
}

/**
 * known_hosts has a different key of the same type for this host: the host
 * was reinstalled, or someone is in the middle. Nothing was sent to the host.
 */
export class HostKeyMismatchError extends SshError {
  override readonly code = "SSH_HOST_KEY_MISMATCH";
  constructor(
    destination: string,
    readonly hostname: string,
    readonly port: number,
    readonly knownHostsFile: string,
    readonly keyType: string,
    readonly fingerprint: string,
    readonly expectedFingerprint: string,
    readonly knownHostsLine: number,
    revoked = false,
  ) {
    const what = revoked
      ? `its ${keyType} key ${fingerprint} is marked @revoked in ${knownHostsFile}:${knownHostsLine}`
      : `its ${keyType} key has CHANGED: ${knownHostsFile}:${knownHostsLine} has ${expectedFingerprint}, the server offered ${fingerprint}`;
    super(
      destination,
      `host key verification failed for ${hostLabel(hostname, port)}: ${what}.\n` +
        "Someone may be intercepting the connection, or the host was reinstalled. If its administrator confirms the new key, " +
        "remove the old one with:\n" +
        `  ssh-keygen -R '${port === 22 ? hostname : `[${hostname}]:${port}`}' -f ${knownHostsFile}\n` +
        `then trust the new key with:\n  ssh-keyscan -p ${port} ${hostname} >> ${knownHostsFile}`,
    );
  }
}

/** The private key file is missing, unreadable, not a key, or needs a passphrase. */
export class SshKeyFileError extends SshError {
  override readonly code = "SSH_KEY_FILE";
}

/** The server refused every key offered. */
export class SshAuthError extends SshError {
  override readonly code = "SSH_AUTH";
}

/** The host could not be reached: name not found, connection refused, timed out, closed during the handshake. */
export class SshConnectError extends SshError {
  override readonly code = "SSH_CONNECT";
}

/** An established connection dropped while a command or task was using it. */
export class SshConnectionLostError extends SshError {
  override readonly code = "SSH_CONNECTION_LOST";
}

/** The host is reachable but not ready to run tasks: no `node`, a `node` too old, a working dir that cannot be made, no SFTP. */
export class SshRemoteSetupError extends SshError {
  override readonly code = "SSH_REMOTE_SETUP";
}

function hostLabel(hostname: string, port: number): string {
  return port === 22 ? hostname : `${hostname} port ${port}`;
}
