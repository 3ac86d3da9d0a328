/**
 * One bridge process per scheduler (and Python) per dispatcher process,
 * shared by every Dask executor instance that points there. Kept at module
 * level because executors are rebuilt from their specs without their
 * constructor: an instance only holds a token that marks it as a user.
 *
 * The last user's teardown leaves the bridge open for LINGER_MS: the next
 * dispatch often follows at once (a script's loop, a server's queue) and
 * then pays no Python start, no `import distributed`, no connect and no new
 * scatter of the runner and bundle. An idle bridge never holds this process
 * open (see `Bridge.updateRef`), and it leaves when this process does.
 */
import { Bridge } from "./bridge.js";
import type { BridgeConfig } from "./options.js";

interface Entry {
  readonly bridge: Bridge;
  readonly users: Set<object>;
  /** Set while no executor uses the bridge: closes it. */
  linger?: NodeJS.Timeout;
  /** It never connected (no Python, no distributed, no scheduler): nothing to keep. */
  failed: boolean;
}

/** How long a bridge outlives the last executor's teardown. */
const LINGER_MS = 30_000;

const entries = new Map<string, Entry>();

const keyOf = (config: BridgeConfig) => `${config.python}\n${config.schedulerAddress}`;

/** The live bridge for `config`, started if there is none (or the last one died); `user` counts as using it. */
export function acquireBridge(config: BridgeConfig, user: object): Bridge {
  const key = keyOf(config);
  let entry = entries.get(key);
  if (!entry || entry.bridge.closed) {
    const bridge = new Bridge(config);
    const fresh: Entry = { bridge, users: new Set(), failed: false };
    bridge.ready.catch(() => (fresh.failed = true));
    entry = fresh;
    entries.set(key, fresh);
    bridge.whenExited(() => {
      clearTimeout(fresh.linger);
      if (entries.get(key) === fresh) entries.delete(key);
    });
  }
  clearTimeout(entry.linger);
  entry.linger = undefined;
  entry.users.add(user);
  return entry.bridge;
}

/** `user` no longer uses the bridge for `config`; LINGER_MS after the last user left, it closes. */
export async function releaseBridge(config: BridgeConfig, user: object): Promise<void> {
  const key = keyOf(config);
  const entry = entries.get(key);
  if (!entry || !entry.users.delete(user) || entry.users.size > 0) return;
  if (entry.failed) return closeEntry(key, entry);
  clearTimeout(entry.linger);
  entry.linger = setTimeout(() => void closeEntry(key, entry), LINGER_MS);
  entry.linger.unref();
}

/** Closes every bridge no executor uses now, without waiting for its linger (tests; a server that wants them gone). */
export async function closeUnusedBridges(): Promise<void> {
  await Promise.all([...entries].filter(([, e]) => e.users.size === 0).map(([key, e]) => closeEntry(key, e)));
}

async function closeEntry(key: string, entry: Entry): Promise<void> {
  clearTimeout(entry.linger);
  entry.linger = undefined;
  if (entry.users.size > 0) return;
  if (entries.get(key) === entry) entries.delete(key);
  await entry.bridge.close();
}

/** The bridges now running, for tests. */
export function liveBridges(): Bridge[] {
  return [...entries.values()].map((e) => e.bridge);
}
