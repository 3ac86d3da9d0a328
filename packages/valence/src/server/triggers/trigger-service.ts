/**
 * The server's triggers: registered, kept in the store, started with the server (after the
 * fires a killed server left half-done are dispatched), paused, resumed and removed. Each
 * running trigger is a TimeTrigger (every, cron) or a WatchTrigger (watch); each fire goes
 * through the TriggerFirer, which claims it in the store before dispatching it.
 */
import { TriggerNotFoundError, TriggerSpecError } from "../../errors.js";
import { isTriggerId, newTriggerId, type DispatchId, type TriggerId } from "../../ids.js";
import type { TriggerBody, TriggerSummary } from "../../api/wire.js";
import type { Store } from "../../engine/store/store.js";
import type { TriggerRecord } from "../../engine/store/triggers.js";
import { tickAfter } from "../../engine/triggers/schedule.js";
import { checkWatchedDirectory, normalizeSpec } from "../../engine/triggers/trigger-spec.js";
import { BadRequestError } from "../http-errors.js";
import { checkSubmission } from "../submissions.js";
import { TriggerFirer, type TriggerBundles } from "./fire.js";
import { doneUpTo, scheduleOf, TimeTrigger } from "./time-trigger.js";
import { fileKey, WatchTrigger } from "./watch-trigger.js";

export interface TriggerServiceOptions {
  readonly store: Store;
  readonly bundles: TriggerBundles;
  readonly started: (id: DispatchId) => Promise<void>;
  readonly log: (line: string) => void;
  /**
   * A team server (several sharing one database): how often it reads the triggers again, to
   * start those registered on another server and stop those paused or removed there. Each
   * tick or file version still fires once across the team (its claim), and never for a
   * paused or removed trigger, so a server only a moment behind fires nothing it should not.
   */
  readonly syncMs?: number | undefined;
}

type Running = TimeTrigger | WatchTrigger;

export class TriggerService {
  private readonly running = new Map<TriggerId, Running>();
  private readonly firer: TriggerFirer;
  private stopped = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;

  constructor(private readonly opts: TriggerServiceOptions) {
    this.firer = new TriggerFirer(opts);
  }

  /** Dispatches what a killed server claimed but did not store, then starts every trigger not paused. */
  async start(): Promise<void> {
    const recovered = await this.firer.recover();
    if (recovered) this.opts.log(`triggers: dispatched ${recovered} fire${recovered === 1 ? "" : "s"} claimed before the restart`);
    const all = await this.opts.store.triggers.list();
    for (const t of all) {
      if (t.paused) continue;
      // One trigger that cannot start (its directory gone) must not keep the server or the others from starting.
      await this.run(t).catch((error: unknown) => this.opts.log(`trigger ${t.id}: cannot start: ${(error as Error).message}`));
    }
    if (all.length) this.opts.log(`triggers: ${all.filter((t) => !t.paused).length} running, ${all.filter((t) => t.paused).length} paused`);
    if (this.opts.syncMs) this.syncTimer = setInterval(() => void this.sync(), this.opts.syncMs).unref();
  }

  /** Starts what the store says runs and this server does not run, and stops what it says does not (a team's other servers changed it). */
  sync(): Promise<void> {
    this.syncing ??= (async () => {
      try {
        const all = new Map((await this.opts.store.triggers.list()).map((t) => [t.id, t]));
        for (const [id, running] of this.running) {
          const t = all.get(id);
          if (t && !t.paused) continue;
          this.running.delete(id);
          await running.stop();
        }
        for (const t of all.values()) {
          if (t.paused || this.running.has(t.id) || this.stopped) continue;
          await this.run(t).catch((error: unknown) => this.opts.log(`trigger ${t.id}: cannot start: ${(error as Error).message}`));
        }
      } catch (error) {
        this.opts.log(`triggers: cannot read them from the store, trying again: ${(error as Error).message}`);
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.syncTimer);
    await this.syncing;
    await Promise.all([...this.running.values()].map((r) => r.stop()));
    this.running.clear();
  }

  /** Registers a trigger (checked: its spec, its directory on this machine, its template) and starts it. */
  async add(body: TriggerBody): Promise<TriggerRecord> {
    const spec = normalizeSpec(body.spec, body.template.cwd);
    if (spec.kind === "watch") checkWatchedDirectory(spec.spec);
    checkTemplate(body);
    // Fetched from the team if another server received it, and kept by the team before the trigger is: any server may fire it.
    const hash = body.template.bundleHash;
    if (hash && (await this.opts.bundles.here(hash))) await this.opts.bundles.share(hash);
    const { bundlePath } = checkSubmission(this.opts.store.dataDir, body.template);
    if (!bundlePath || !body.template.bundleHash) throw new BadRequestError("template.bundleHash: a trigger needs the code bundle its lattice is defined in");
    const now = Date.now();
    const t: TriggerRecord = {
      id: newTriggerId(),
      latticeName: body.latticeName,
      latticeId: body.latticeId,
      ...spec,
      template: JSON.stringify(body.template),
      bundleHash: body.template.bundleHash,
      withArg: body.withArg,
      paused: false,
      createdAt: now,
      armedAt: now,
      lastFireAt: null,
      lastTick: null,
    };
    await this.opts.store.triggers.insert(t);
    this.opts.log(`trigger ${t.id}: ${t.latticeName} on ${t.kind} ${t.spec}`);
    await this.run(t);
    return t;
  }

  async get(id: string): Promise<TriggerRecord> {
    const t = isTriggerId(id) ? await this.opts.store.triggers.get(id) : undefined;
    if (!t) throw new TriggerNotFoundError(id);
    return t;
  }

  async setPaused(id: string, paused: boolean): Promise<TriggerRecord> {
    const t = await this.get(id);
    if (t.paused === paused) return t;
    await this.opts.store.triggers.setPaused(t.id, paused, Date.now());
    await this.running.get(t.id)?.stop();
    this.running.delete(t.id);
    const now = await this.get(id);
    if (!paused) await this.run(now);
    this.opts.log(`trigger ${t.id}: ${paused ? "paused" : "resumed"}`);
    return now;
  }

  async remove(id: string): Promise<TriggerRecord> {
    const t = await this.get(id);
    await this.running.get(t.id)?.stop();
    this.running.delete(t.id);
    await this.opts.store.triggers.remove(t.id);
    this.opts.log(`trigger ${t.id}: removed (its dispatches stay)`);
    return t;
  }

  summary(t: TriggerRecord): TriggerSummary {
    const { id, latticeName, kind, spec, timezone, paused, createdAt, lastFireAt } = t;
    let nextFireAt: number | null = null;
    if (kind !== "watch" && !paused) {
      const live = this.running.get(t.id);
      nextFireAt = live instanceof TimeTrigger && live.next !== null ? live.next : tickAfter(scheduleOf(t), Math.max(doneUpTo(t), Date.now()));
    }
    return { id, latticeName, kind, spec, timezone, paused, createdAt, lastFireAt, nextFireAt };
  }

  private async run(t: TriggerRecord): Promise<void> {
    // Set in `running` before the first await: a sync and a registration racing start it once.
    if (this.stopped || this.running.has(t.id)) return;
    // A failed fire is logged, never thrown into a timer or a watcher's event.
    const fire = async (key: string, value: unknown, tick: number | null) => {
      try {
        await this.firer.fire(t, key, t.withArg ? value : undefined, tick);
      } catch (error) {
        this.opts.log(`trigger ${t.id}: the fire ${key} failed: ${(error as Error).message}`);
      }
    };
    if (t.kind === "watch") {
      const w = new WatchTrigger(t, (path, mtimeMs) => fire(fileKey(path, mtimeMs), path, null), this.opts.log);
      this.running.set(t.id, w);
      await w.start();
    } else {
      const iso = (tick: number) => new Date(tick).toISOString();
      const tt = new TimeTrigger(t, (tick) => fire(iso(tick), iso(tick), tick));
      this.running.set(t.id, tt);
      tt.start();
    }
  }
}

/** The template must be the lattice as one sublattice node, fed by one parameter node when it takes the argument. */
function checkTemplate(body: TriggerBody): void {
  const nodes = body.template.nodes;
  const sub = nodes.filter((n) => n.kind === "sublattice");
  const params = nodes.filter((n) => n.kind === "parameter");
  if (sub.length !== 1 || sub[0]?.electronId !== body.latticeId || params.length !== (body.withArg ? 1 : 0) || nodes.length !== sub.length + params.length) {
    throw new BadRequestError(
      `template: must be lattice ${body.latticeId} as one sublattice node${body.withArg ? ", fed by one parameter node" : ""} (what the client's trigger() sends)`,
    );
  }
  if (!body.latticeName.trim()) throw new TriggerSpecError("lattice", "latticeName: must name the lattice");
}
