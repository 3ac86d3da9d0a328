/**
 * The config's `[retention]`, kept by the server: every so often it purges finished dispatches
 * older than the setting (engine/purge.ts), and logs what went. One sweep at a time; a sweep
 * that fails is logged and the next one tries again.
 */
import { planPurge, purge, purgesNothing, purgeSummary } from "../engine/purge.js";
import type { Store } from "../engine/store/store.js";
import type { RetentionConfig } from "../engine/config/types.js";
import type { DispatchId } from "../ids.js";

/** The config's `[retention]` (engine/config/types.ts). */
export type RetentionSetting = RetentionConfig;

export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly setting: RetentionSetting,
    private readonly log: (line: string) => void,
    /** Told the dispatches each sweep removed (the server publishes that they went). */
    private readonly removed: (ids: readonly DispatchId[]) => void = () => undefined,
  ) {}

  start(): void {
    void this.sweep();
  }

  /** One sweep now (tests, and the timer). */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
      if (!this.stopped) this.timer = setTimeout(() => void this.sweep(), this.setting.everyMs).unref();
    });
    return this.sweeping;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    try {
      const plan = await planPurge(this.store, { olderThanMs: this.setting.olderThanMs, ...(this.setting.statuses && { statuses: this.setting.statuses }) });
      if (purgesNothing(plan)) return;
      await purge(this.store, plan);
      this.log(`retention: ${purgeSummary(plan, "removed")}`);
      if (plan.dispatchIds.length) this.removed(plan.dispatchIds);
    } catch (error) {
      this.log(`retention: the sweep failed, the next one tries again: ${(error as Error).message}`);
    }
  }
}
