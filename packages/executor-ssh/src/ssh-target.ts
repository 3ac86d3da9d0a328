/**
 * Where to connect and as whom: the options a user writes (`SshTarget`) and
 * the same with every default filled in (`ResolvedTarget`). Defaults are
 * those of `ssh`: the current user, `~/.ssh/id_ed25519` then `id_rsa`,
 * `~/.ssh/known_hosts`.
 */
import { homedir, userInfo } from "node:os";
import { join } from "node:path";

/** Where an `SshConnection` connects. Only `hostname` is required. */
export interface SshTarget {
  readonly hostname: string;
  /** Default 22. */
  readonly port?: number;
  /** Default: the user running this process. */
  readonly username?: string;
  /** Private key file (not the `.pub`). Default `~/.ssh/id_ed25519`, else `~/.ssh/id_rsa`, else the ssh-agent at `$SSH_AUTH_SOCK`. */
  readonly sshKeyFile?: string;
  /** Default `~/.ssh/known_hosts`. */
  readonly knownHostsFile?: string;
  /** Seconds to wait for the TCP connection and the SSH handshake together. Default 10. */
  readonly connectTimeout?: number;
  /** The server's `MaxSessions` (channels per connection); default 10, OpenSSH's default. */
  readonly maxSessions?: number;
}

export interface ResolvedTarget {
  readonly hostname: string;
  readonly port: number;
  readonly username: string;
  /** Key files to try, in order; `explicit` when the user named one (then it must exist). */
  readonly keyFiles: readonly string[];
  readonly explicitKeyFile: boolean;
  readonly knownHostsFile: string;
  readonly connectTimeoutMs: number;
  readonly maxSessions: number;
  /** `user@host:port`, for messages. */
  readonly destination: string;
  /** One pooled connection per key. */
  readonly key: string;
}

export const DEFAULT_PORT = 22;
export const DEFAULT_CONNECT_TIMEOUT_S = 10;
export const DEFAULT_MAX_SESSIONS = 10;

export function resolveTarget(target: SshTarget): ResolvedTarget {
  const port = target.port ?? DEFAULT_PORT;
  const username = target.username || currentUser();
  const explicitKeyFile = Boolean(target.sshKeyFile);
  const keyFiles = target.sshKeyFile
    ? [expandHome(target.sshKeyFile)]
    : [join(homedir(), ".ssh", "id_ed25519"), join(homedir(), ".ssh", "id_rsa")];
  const knownHostsFile = expandHome(target.knownHostsFile || join(homedir(), ".ssh", "known_hosts"));
  const destination = `${username}@${target.hostname}:${port}`;
  return {
    hostname: target.hostname,
    port,
    username,
    keyFiles,
    explicitKeyFile,
    knownHostsFile,
    connectTimeoutMs: Math.round((target.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_S) * 1000),
    maxSessions: target.maxSessions ?? DEFAULT_MAX_SESSIONS,
    destination,
    key: JSON.stringify([destination, explicitKeyFile ? keyFiles[0] : "", knownHostsFile]),
  };
}

/** `~/x` → `$HOME/x`, as a shell would; other paths unchanged. */
export function expandHome(path: string): string {
  if (path === "~") return homedir();
  return path.startsWith("~/") ? join(homedir(), path.slice(2)) : path;
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry for this uid (some containers).
    return process.env["USER"] ?? process.env["LOGNAME"] ?? "root";
  }
}
