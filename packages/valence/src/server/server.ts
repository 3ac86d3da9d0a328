/**
 * The Valence server: the HTTP API on node:http, the supervisor of dispatch
 * runners, and the store. On start it records where it listens in the data
 * dir (how clients find it) and resumes every unfinished dispatch; on close
 * it stops the runners and leaves their dispatches to resume next time.
 */
import { mkdirSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { serve } from "@hono/node-server";
import { ServerStateError } from "../errors.js";
import { openStore } from "../engine/store/open-store.js";
import { describeStore, SQLITE, storeEnvValue, type StoreSetting } from "../engine/store/store-setting.js";
import { createApp, type AppOptions } from "./app.js";
import { EventHub } from "./event-hub.js";
import { ensureToken, lockDataDir, readServerInfo, serverLockHeld, serverLockHolder, removeServerInfo, unlockDataDir, writeServerInfo, type ServerInfo } from "../client/server-file.js";
import { Supervisor } from "./supervisor.js";
import { identify } from "../engine/locks/process-identity.js";
import { createDashboardApi, DASHBOARD_PATH } from "./dashboard-api.js";
import { withDashboardUi } from "./static-ui.js";
import { API_PREFIX } from "../api/wire.js";
import { newServerId } from "../ids.js";
import { DEFAULT_LEASE_MS, TeamMember } from "./team.js";
import { ServerMetrics } from "./metrics/server-metrics.js";
import { allOf } from "../engine/observe/observation.js";
import { startTracing } from "../engine/traces/start-tracing.js";
import type { TraceSetting } from "../engine/traces/trace-setting.js";
import { RetentionSweeper, type RetentionSetting } from "./retention.js";
import { TriggerService } from "./triggers/trigger-service.js";

export const DEFAULT_PORT = 48008;
export const DEFAULT_HOST = "127.0.0.1";
/** How often a team server reads the triggers again (those added, paused or removed on another server). */
const TRIGGER_SYNC_MS = 2000;

export interface ServerOptions {
  readonly dataDir: string;
  /** Where dispatches are stored: the data dir's SQLite file (default), or Postgres shared with other servers. */
  readonly store?: StoreSetting;
  readonly host?: string;
  /** 0 picks a free port (tests). */
  readonly port?: number;
  /** A team server's lease (Postgres store): how long its dispatches wait after it dies before another server takes them. */
  readonly leaseMs?: number;
  /** Bearer token; required (and generated into the data dir if not given) when `host` is not loopback. */
  readonly token?: string | undefined;
  readonly log?: (line: string) => void;
  readonly limits?: Pick<AppOptions, "maxJsonBytes" | "maxBundleBytes" | "longPollMs">;
  /** Where OpenTelemetry traces of the dispatches go (the config's `traces`); unset: no traces, and OpenTelemetry is never loaded. */
  readonly traces?: TraceSetting | undefined;
  /** The config's `[retention]`: finished dispatches older than it are purged, at start and then every so often. */
  readonly retention?: RetentionSetting | undefined;
}

export interface RunningServer {
  readonly info: ServerInfo;
  readonly supervisor: Supervisor;
  /** Stops accepting requests, stops the runners (their dispatches resume at the next start), closes the store. */
  close(): Promise<void>;
  /** Settles once the server has closed (asked to, or a team server that lost its lease). */
  readonly closed: Promise<void>;
}

/** `VALENCE_LEASE_MS`: a team server's lease, in ms (at least 500). */
function leaseFromEnv(): number | undefined {
  const raw = process.env["VALENCE_LEASE_MS"];
  if (!raw) return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 500) throw new ServerStateError(`VALENCE_LEASE_MS must be a whole number of milliseconds, at least 500, not "${raw}"`);
  return ms;
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log ?? ((line: string) => console.log(`${new Date().toISOString()} ${line}`));
  const host = opts.host ?? DEFAULT_HOST;
  // The token file may be the first thing written there.
  mkdirSync(opts.dataDir, { recursive: true });
  // Of two servers started at once, only one gets past this: the other would share the store.
  // A server killed a moment ago holds nothing: the kernel released its lock as it died.
  if (!lockDataDir(opts.dataDir)) {
    const other = readServerInfo(opts.dataDir);
    // The winner writes its pid just after taking the lock: a loser that looked in between waits a moment for it.
    let holder = serverLockHolder(opts.dataDir);
    for (let i = 0; !other && holder === undefined && i < 50 && serverLockHeld(opts.dataDir); i++) {
      await new Promise((r) => setTimeout(r, 10));
      holder = serverLockHolder(opts.dataDir);
    }
    const where = other ? `: ${other.url} (pid ${other.pid})` : holder ? ` (pid ${holder}), still starting` : ", still starting";
    throw new ServerStateError(`a Valence server already runs on data dir ${opts.dataDir}${where}; stop it with \`valence stop\``);
  }
  const token = opts.token || process.env["VALENCE_TOKEN"] || (isLoopback(host) ? undefined : ensureToken(opts.dataDir));
  const setting = opts.store ?? SQLITE;
  const version = packageVersion();
  // Read at scrape time; the supervisor exists by the time anyone can scrape.
  let supervised: Supervisor | undefined;
  const metrics = new ServerMetrics({
    version,
    runningDispatches: () => supervised?.running ?? 0,
    runners: () => supervised?.pool() ?? { busy: 0, idle: 0, spare: 0 },
  });
  let store;
  try {
    store = await openStore(setting, opts.dataDir, metrics);
  } catch (error) {
    unlockDataDir(opts.dataDir);
    throw error;
  }
  // Spans are made here, from what the runners send, not in the runners: this process lives
  // on, so it can send the last spans when it stops.
  const tracing = await startTracing(opts.traces, "valence");
  const hub = new EventHub();
  // The changes made here (not those relayed from the rest of a team, which count there).
  hub.tap((change) => metrics.changed(change));
  const supervisor = new Supervisor({
    store,
    hub,
    log,
    observer: allOf(metrics, tracing),
    // Runners work on this data dir, embedded: they are the dispatcher, not clients of one.
    env: { ...process.env, VALENCE_DATA_DIR: opts.dataDir, VALENCE_SERVER: "embedded", VALENCE_STORE: storeEnvValue(setting) },
  });
  supervised = supervisor;
  const startedAt = Date.now();
  // Requests that store a dispatch wait for this: a team server marks each one it receives as its own.
  let joined!: (t: TeamMember | undefined) => void;
  const team = new Promise<TeamMember | undefined>((resolve) => (joined = resolve));
  // A fire's dispatch starts as a submitted one does: the team's claim, the live list, a runner.
  const triggers = new TriggerService({
    store,
    bundles: supervisor.bundles,
    log,
    syncMs: store.cluster ? TRIGGER_SYNC_MS : undefined,
    started: async (id) => {
      await (await team)?.claim(id);
      hub.publish({ dispatchId: id, at: Date.now(), nodes: [], status: "NEW_OBJECT" });
      void supervisor.start(id);
    },
  });
  const app = createApp({ store, supervisor, hub, version, startedAt, token, team, metrics, triggers, storeLabel: describeStore(setting), ...opts.limits });
  app.route(API_PREFIX + DASHBOARD_PATH, createDashboardApi({ store }));

  const server = serve({ fetch: withDashboardUi(app.fetch), hostname: host, port: opts.port ?? DEFAULT_PORT });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
  } catch (error) {
    await store.close();
    unlockDataDir(opts.dataDir);
    const e = error as NodeJS.ErrnoException;
    const why = e.code === "EADDRINUSE" ? "the port is in use (choose another with --port)" : e.message;
    throw new ServerStateError(`cannot listen on ${host}:${opts.port ?? DEFAULT_PORT}: ${why}`, { cause: error });
  }
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  const info: ServerInfo = { pid: process.pid, startTicks: identify().startTicks, host, port, url: `http://${shownHost}:${port}`, startedAt, machine: hostname(), version };
  writeServerInfo(opts.dataDir, info);
  log(`valence server ${version} listening on ${info.url} (pid ${process.pid}, data dir ${opts.dataDir}, store ${describeStore(setting)}${token ? ", token required" : ""}${opts.traces ? `, traces to ${withoutCredentials(opts.traces.url)}` : ""})`);
  let closing: Promise<void> | undefined;
  let closedNow!: () => void;
  const closed = new Promise<void>((resolve) => (closedNow = resolve));
  let member: TeamMember | undefined;
  const retention = opts.retention ? new RetentionSweeper(store, opts.retention, log, (ids) => hub.publishDeleted(ids)) : undefined;
  retention?.start();
  const close = (graceMs?: number) =>
    (closing ??= (async () => {
      log("stopping: runners stop now, their dispatches resume at the next start");
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Live event streams would hold the close open forever.
        (server as import("node:http").Server).closeAllConnections?.();
      });
      await retention?.stop();
      await triggers.stop();
      await supervisor.stopAll(graceMs);
      // After the runners: the other servers may take its unfinished dispatches from now on.
      await member?.leave().catch((error: unknown) => log(`could not leave the team: ${(error as Error).message}`));
      removeServerInfo(opts.dataDir, process.pid);
      await tracing?.shutdown().catch((error: unknown) => log(`could not send the last traces: ${(error as Error).message}`));
      await store.close();
      unlockDataDir(opts.dataDir);
      log("stopped");
      closedNow();
    })());
  if (store.cluster) {
    const leaseMs = opts.leaseMs ?? leaseFromEnv() ?? DEFAULT_LEASE_MS;
    const self = { id: newServerId(), url: info.url, host: hostname(), pid: process.pid, dataDir: opts.dataDir, startedAt };
    try {
      // Its runners are killed at once, not given the usual grace: another server may take over soon.
      member = await TeamMember.join({ cluster: store.cluster, self, supervisor, hub, leaseMs, log, onLeaseLost: () => void close(0) });
    } catch (error) {
      joined(undefined);
      await close();
      throw error;
    }
    log(`team server ${self.id}: lease ${leaseMs} ms; dispatches of servers whose lease runs out are taken over`);
  } else {
    const resumed = await supervisor.resumeAll();
    if (resumed) log(`resumed ${resumed} unfinished dispatch${resumed === 1 ? "" : "es"}`);
  }
  joined(member);
  supervisor.keepSpare();
  // After the resumes: a fire whose dispatch was stored before a kill is resumed there, not stored again.
  await triggers.start();

  return { info, supervisor, close, closed };
}

/** A URL fit for the log: any user and password in it left out. */
function withoutCredentials(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}
