/** The CLI's way to the server: the same discovery as `dispatch`, plus a clear error when there is none. */
import { ServerClient } from "../client/server-client.js";
import { serverTarget } from "../client/dispatcher.js";
import { loadConfig } from "../engine/config/index.js";
import { ServerStateError } from "../errors.js";

export function serverClient(): ServerClient | undefined {
  const target = serverTarget(loadConfig());
  return target ? new ServerClient(target.url, target.token) : undefined;
}

export function requireServer(what: string): ServerClient {
  const client = serverClient();
  if (!client) {
    throw new ServerStateError(`${what} needs a running server: start one with \`valence start\` (or set VALENCE_SERVER to its address)`);
  }
  return client;
}
