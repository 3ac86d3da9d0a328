import { setTimeout as sleep } from "node:timers/promises";
import { logTails } from "./log-tail.js";
import { describeExit, type ServiceProcess } from "./processes.js";
import { ServiceStartError, type Component } from "./service-start-error.js";

export interface WaitOptions {
  component: Component;
  /** What we are waiting for, as it should read in the error: "sshd to listen on 127.0.0.1:2222". */
  what: string;
  /** Returns true when ready. A throw counts as "not yet"; the last one is reported on timeout. */
  check: () => Promise<boolean>;
  /** Daemons whose exit means readiness will never come: fail at once instead of timing out. */
  watch: readonly ServiceProcess[];
  /** Extra logs to show on failure besides the watched processes' own. */
  logs?: readonly string[];
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls `check` until it succeeds. Fails fast with the daemon's log when a watched process
 * exits (a port clash or a bad config shows up in ~100 ms rather than after the timeout).
 */
export async function waitUntil(options: WaitOptions): Promise<void> {
  const { component, what, check, watch } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 100;
  const logs = [...watch.map((p) => p.logFile), ...(options.logs ?? [])];
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const dead = watch.find((p) => p.exit() !== undefined);
    if (dead) {
      throw new ServiceStartError(component, `${dead.name} ${describeExit(dead.exit()!)} while waiting for ${what}`, {
        logTail: logTails(logs),
      });
    }
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? ` (last check: ${lastError.message.trim()})` : "";
      throw new ServiceStartError(component, `timed out after ${timeoutMs} ms waiting for ${what}${reason}`, {
        logTail: logTails(logs),
        cause: lastError,
      });
    }
    await sleep(intervalMs);
  }
}
