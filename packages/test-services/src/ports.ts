import { connect, createServer, type Server } from "node:net";
import { listensOn } from "./proc-table.js";

function listen(port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ port, host, exclusive: true }, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * `count` distinct ports the kernel says are free on `host`. The listeners are all held
 * open until every port is chosen, so the ports differ from each other; another process can
 * still take one before the service binds it, which is why callers check the service
 * really listens. Use "0.0.0.0" for daemons that bind every interface (slurmctld, slurmd).
 */
export async function freePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listen(0, host));
    return servers.map((s) => {
      const addr = s.address();
      if (addr === null || typeof addr === "string") throw new Error("listener has no port");
      return addr.port;
    });
  } finally {
    await Promise.all(servers.map(close));
  }
}

/** One free port on `host`; see {@link freePorts}. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const [port] = await freePorts(1, host);
  return port!;
}

/** Whether `port` can be bound on `host` right now. */
export async function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  try {
    await close(await listen(port, host));
    return true;
  } catch {
    return false;
  }
}

/** Whether something accepts TCP connections on host:port (one attempt, 1 s at most). */
export function acceptsConnections(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Whether process `pid` is listening on `port`: by /proc where possible (no probe
 * connection, and a port someone else grabbed does not count), else by connecting.
 */
export async function processListens(pid: number, port: number, host = "127.0.0.1"): Promise<boolean> {
  return listensOn(pid, port) ?? (await acceptsConnections(port, host));
}
