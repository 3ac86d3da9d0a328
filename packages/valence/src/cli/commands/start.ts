import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { readServerInfo, serverLogFile } from "../../client/server-file.js";
import { loadConfig } from "../../engine/config/index.js";
import { ServerStateError } from "../../errors.js";
import { parseStoreSetting, storeEnvValue, type StoreSetting } from "../../engine/store/store-setting.js";
import { DEFAULT_HOST, DEFAULT_PORT, startServer } from "../../server/server.js";
import type { TraceSetting } from "../../engine/traces/trace-setting.js";
import type { RetentionConfig } from "../../engine/config/types.js";
import { parseOrUsage, UsageError, type Command } from "../command.js";
import { tailLines } from "./logs.js";

const usage = `valence start [--foreground] [--host HOST] [--port PORT] [--store URL]

Starts the Valence server on this data dir: dispatches then go to it, outlive
the script that made them, and resume after a crash. It runs in the
background (pid and address in DATA_DIR/server.json, log in DATA_DIR/server.log)
unless --foreground is given (for containers and service managers).

  --host HOST   address to bind (default ${DEFAULT_HOST}); any other than loopback
                requires a token, generated into DATA_DIR/server.token
  --port PORT   port (default ${DEFAULT_PORT}; 0 picks a free one)
  --store URL   where dispatches are stored: "sqlite" (the data dir's file, the
                default) or postgres://user:password@host:5432/database, which
                several servers can share (also VALENCE_STORE, or store = "…"
                in the config file)`;

/** How long a background start may take before it is reported as failed. */
const START_TIMEOUT_MS = 20_000;

export const startCommand: Command = {
  name: "start",
  summary: "start the server (in the background)",
  usage,
  async run(argv) {
    const { values } = parseOrUsage(
      { args: argv, options: { foreground: { type: "boolean" }, host: { type: "string" }, port: { type: "string" }, store: { type: "string" } } },
      usage,
    );
    const host = values.host ?? DEFAULT_HOST;
    const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number (0 to 65535), got "${values.port}"`, usage);
    const config = loadConfig();
    const dataDir = config.dataDir.value;
    const store = values.store === undefined ? config.store.value : parseStoreSetting(values.store, "--store");
    mkdirSync(dataDir, { recursive: true });
    if (values.foreground) return foreground(dataDir, host, port, store, config.traces.value, config.retention.value);

    const running = readServerInfo(dataDir);
    if (running) throw new ServerStateError(`a server already runs on data dir ${dataDir}: ${running.url} (pid ${running.pid})`);
    const log = serverLogFile(dataDir);
    const fd = openSync(log, "a");
    const bin = fileURLToPath(new URL("../../../bin/valence.js", import.meta.url));
    const child = spawn(process.execPath, [bin, "start", "--foreground", "--host", host, "--port", String(port)], {
      detached: true,
      stdio: ["ignore", fd, fd],
      // The setting travels in the environment, not the command line, where `ps` would show a password.
      env: { ...process.env, VALENCE_DATA_DIR: dataDir, VALENCE_STORE: storeEnvValue(store) },
    });
    closeSync(fd);
    let exited: number | null | undefined;
    child.once("exit", (code) => (exited = code));
    child.unref();
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const info = readServerInfo(dataDir);
      if (info && info.pid === child.pid) {
        console.log(`Valence server started: ${info.url} (pid ${info.pid})\n  data dir: ${dataDir}\n  log:      ${log}`);
        return 0;
      }
      if (exited !== undefined) break;
      await sleep(50);
    }
    if (exited === undefined) child.kill("SIGTERM");
    throw new ServerStateError(`the server did not start${exited !== undefined ? ` (it exited with code ${exited})` : " in time"}; the end of ${log}:\n${tailLines(log, 15)}`);
  },
};

async function foreground(dataDir: string, host: string, port: number, store: StoreSetting, traces: TraceSetting | undefined, retention: RetentionConfig | undefined): Promise<number> {
  const server = await startServer({ dataDir, host, port, store, traces, retention });
  let lost = true;
  await Promise.race([
    new Promise<void>((resolve) => {
      for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => ((lost = false), resolve()));
    }),
    // A team server that lost its lease closes by itself; a service manager starts it again.
    server.closed,
  ]);
  await server.close();
  return lost ? 1 : 0;
}
