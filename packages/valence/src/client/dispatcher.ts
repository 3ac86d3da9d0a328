/**
 * Where `dispatch` sends work: to a server when one is configured or running
 * on this data dir, else to the embedded engine in this process.
 *
 * The server is found, in order, through `VALENCE_SERVER` (a URL or
 * `host:port`; `embedded` forces embedded mode), the config file's
 * `[server] address`, and the `server.json` that `valence start` writes into
 * the data dir while it runs.
 */
import type { Dispatcher } from "./dispatcher-contract.js";
import { replacementsOf } from "./replacements.js";
import { ServerClient } from "./server-client.js";
import { ServerDispatcher } from "./server-dispatcher.js";
import { readServerInfo, readToken } from "./server-file.js";
import { loadConfig, type EffectiveConfig } from "../engine/config/index.js";
import { BUILTIN_EXECUTORS, Engine } from "../engine/engine.js";
import { createRegistry } from "../engine/plugins/registry.js";
import { readTaskOutput } from "../engine/task-output.js";
import { TriggerNeedsServerError } from "../errors.js";

export type { Dispatcher };

/** The server to use, if any: `{ url, token }`. */
export function serverTarget(config: EffectiveConfig, env: NodeJS.ProcessEnv = process.env): { url: string; token?: string } | undefined {
  const fromEnv = env["VALENCE_SERVER"];
  const token = env["VALENCE_TOKEN"] || readToken(config.dataDir.value);
  const withToken = (url: string) => (token ? { url: asUrl(url), token } : { url: asUrl(url) });
  if (fromEnv === "embedded" || fromEnv === "off") return undefined;
  if (fromEnv) return withToken(fromEnv);
  if (config.server.address.value) return withToken(config.server.address.value);
  const running = readServerInfo(config.dataDir.value);
  return running ? withToken(running.url) : undefined;
}

function asUrl(address: string): string {
  return /^https?:\/\//.test(address) ? address : `http://${address}`;
}

export async function currentDispatcher(): Promise<Dispatcher> {
  const config = loadConfig();
  const target = serverTarget(config);
  if (!target) return embedded(await Engine.current());
  const registry = await createRegistry({ config, builtins: BUILTIN_EXECUTORS });
  return new ServerDispatcher(new ServerClient(target.url, target.token), config, registry);
}

function embedded(engine: Engine): Dispatcher {
  return {
    submit: async (info, args) => (await engine.submit(info, args)).id,
    getResult: (id, opts) => engine.getResult(id, opts),
    cancel: async (id, nodes) => engine.cancel(id, nodes),
    redispatch: async (id, opts) => {
      const replacements = await replacementsOf(opts, (ref) => engine.resolveExecutor(ref), async (file) => engine.bundle(file));
      return (await engine.redispatch(id, { reusePreviousResults: opts.reusePreviousResults, replacements })).id;
    },
    trigger: async () => {
      throw new TriggerNeedsServerError(
        `triggers live in a server, which keeps firing after your script exits: start one with \`valence start\` (no server answers for data dir ${engine.dataDir})`,
      );
    },
    list: async (limit) => engine.store.listDispatches(limit),
    taskOutput: (id, node, after) => readTaskOutput(engine.store, id, node, after),
    where: engine.dataDir,
  };
}
