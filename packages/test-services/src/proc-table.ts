import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/**
 * Linux /proc lookups. Readiness is judged by "our PID owns a listening socket on the port"
 * rather than by connecting: a probe connection makes sshd fork a pre-auth child that holds
 * the listening socket for a moment, and makes Dask log a broken comm.
 */

/** `ppid` of every process, read from /proc/PID/stat. */
function parentMap(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // Fields after the parenthesised command name (which may contain spaces): state ppid ...
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parents.set(Number(name), Number(rest[1]));
    } catch {
      /* exited meanwhile */
    }
  }
  return parents;
}

/**
 * PIDs of every live descendant of `pid`. Processes that daemonised (double fork) are
 * reparented to PID 1 and are not found: this catches an sshd's session children, not
 * what those sessions detach.
 */
export function descendants(pid: number): number[] {
  let parents: Map<number, number>;
  try {
    parents = parentMap();
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const [child, parent] of parents) {
    const list = children.get(parent) ?? [];
    list.push(child);
    children.set(parent, list);
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    for (const c of children.get(stack.pop()!) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** Socket inodes of TCP sockets in LISTEN state on `port` (any address, IPv4 or IPv6). */
function listeningInodes(port: number): Set<string> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length < 10) continue;
      if (f[1]!.endsWith(`:${hexPort}`) && f[3] === "0A") inodes.add(f[9]!);
    }
  }
  return inodes;
}

/**
 * Whether process `pid` itself holds a socket listening on TCP `port`. Undefined when /proc
 * cannot tell (not Linux): callers then fall back to connecting.
 */
export function listensOn(pid: number, port: number): boolean | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return false;
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && inodes.has(m[1]!)) return true;
    } catch {
      /* fd closed meanwhile */
    }
  }
  return false;
}
