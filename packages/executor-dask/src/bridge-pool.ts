/**
 * One bridge process per scheduler (and Python) per dispatcher process,
 * shared by every Dask executor instance that points there. Kept at module
 * level because executors are rebuilt from their specs without their
 * constructor: an instance only holds a token that marks it as a user.
 */
import { Bridge } from "./bridge.js";
import type { BridgeConfig } from "./options.js";

interface Entry {
  readonly bridge: Bridge;
  readonly users: Set<object>;
}

const entries = new Map<string, Entry>();

const keyOf = (config: BridgeConfig) => `${config.python}\n${config.schedulerAddress}`;

/** The live bridge for `config`, started if there is none (or the last one died); `user` counts as using it. */
export function acquireBridge(config: BridgeConfig, user: object): Bridge {
  const key = keyOf(config);
  let entry = entries.get(key);
  if (!entry || entry.bridge.closed) {
    const bridge = new Bridge(config);
    const fresh: Entry = { bridge, users: new Set() };
    entry = fresh;
    entries.set(key, fresh);
    bridge.whenExited(() => {
      if (entries.get(key) === fresh) entries.delete(key);
    });
  }
  entry.users.add(user);
  return entry.bridge;
}

/** `user` no longer uses the bridge for `config`; the last user out closes it. */
export async function releaseBridge(config: BridgeConfig, user: object): Promise<void> {
  const key = keyOf(config);
  const entry = entries.get(key);
  if (!entry || !entry.users.delete(user) || entry.users.size > 0) return;
  entries.delete(key);
  await entry.bridge.close();
}

/** The bridges now running, for tests. */
export function liveBridges(): Bridge[] {
  return [...entries.values()].map((e) => e.bridge);
}
