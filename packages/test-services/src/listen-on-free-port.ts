/**
 * Starting a daemon on a free loopback port: a port another process takes between our probe
 * (freePort) and the daemon's bind is tried again on a new port rather than failing the test.
 */
import { logTail } from "./log-tail.js";
import { freePort, processListens } from "./ports.js";
import type { ServiceProcess } from "./processes.js";
import type { Component } from "./service-start-error.js";
import { waitUntil } from "./wait-until.js";

/** Ports tried before giving up. */
const ATTEMPTS = 3;

export interface ListenOptions {
  /** Component name for errors ("sshd", "s3"). */
  readonly component: Component;
  /** The daemon, in words ("sshd", "s3rver"). */
  readonly name: string;
  /** Starts the daemon on `port`, logging to `logFile`. */
  spawn(port: number): Promise<{ proc: ServiceProcess; logFile: string }>;
  /** What the daemon logs when the port was taken. */
  readonly addressInUse: RegExp;
  readonly timeoutMs: number;
}

/** The daemon listening on 127.0.0.1, and its port. */
export async function listenOnFreePort(o: ListenOptions): Promise<{ proc: ServiceProcess; port: number }> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const port = await freePort();
    const { proc, logFile } = await o.spawn(port);
    try {
      await waitUntil({
        component: o.component,
        what: `${o.name} to listen on 127.0.0.1:${port}`,
        check: () => processListens(proc.pid, port),
        watch: [proc],
        timeoutMs: o.timeoutMs,
        intervalMs: 50,
      });
      return { proc, port };
    } catch (e) {
      await proc.stop();
      lastError = e;
      if (o.addressInUse.test(logTail(logFile))) continue;
      throw e;
    }
  }
  throw lastError;
}
