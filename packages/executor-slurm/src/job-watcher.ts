/**
 * Asks Slurm where jobs are, cheaply: the polls of every task that wake in
 * the same turn of the event loop share one `squeue`, and tasks wake on a
 * shared 50 ms grid, so a hundred running tasks cost one squeue per tick,
 * not a hundred. Jobs squeue no longer lists are asked of `scontrol`.
 */
import type { ClusterShell } from "./cluster-shell.js";
import { SlurmCommandError } from "./errors.js";
import { isInvalidJobId, parseScontrol, parseSqueue, scontrolCommand, squeueCommand, type JobRef } from "./job-queries.js";
import type { JobInfo } from "./slurm-states.js";

interface Waiter {
  resolve(info: JobInfo | undefined): void;
  reject(error: unknown): void;
}

/** Polls wake on multiples of this, so polls of many tasks fall together. */
export const POLL_GRID_MS = 50;
/** Fastest poll of one job. */
export const MIN_POLL_MS = 100;

/**
 * Milliseconds until a job whose state has not changed for `ageMs` is polled again:
 * a quarter of its age (so a result is seen at most ~25% late), at least
 * 100 ms, at most `maxMs` (`pollFreq`), ending on the shared grid.
 *
 * @example
 * pollDelay(400, 1000, now) // ≈ 100, ending at a multiple of 50 ms
 * pollDelay(60_000, 1000, now) // ≈ 1000
 */
export function pollDelay(ageMs: number, maxMs: number, now: number): number {
  const wanted = Math.min(Math.max(ageMs / 4, MIN_POLL_MS), Math.max(maxMs, 1));
  const wake = Math.ceil((now + wanted) / POLL_GRID_MS) * POLL_GRID_MS;
  return wake - now;
}

export class JobWatcher {
  /** Requests waiting for the next squeue, by cluster ("" for the default one), then job id. */
  private queue = new Map<string, Map<string, Waiter[]>>();
  private scheduled = false;

  constructor(private readonly shell: () => Promise<ClusterShell>) {}

  /** Where the job is now; undefined when Slurm no longer knows it (purged after `MinJobAge`). */
  info(job: JobRef): Promise<JobInfo | undefined> {
    return new Promise((resolve, reject) => {
      const key = job.cluster ?? "";
      let byId = this.queue.get(key);
      if (!byId) this.queue.set(key, (byId = new Map()));
      const waiters = byId.get(job.id);
      if (waiters) waiters.push({ resolve, reject });
      else byId.set(job.id, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        // After the timers of this turn have run: their polls join this batch.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = new Map();
    for (const [cluster, byId] of batch) void this.query(cluster || undefined, byId);
  }

  private async query(cluster: string | undefined, byId: Map<string, Waiter[]>): Promise<void> {
    const settle = (id: string, outcome: { info: JobInfo | undefined } | { error: unknown }) => {
      for (const w of byId.get(id) ?? []) {
        if ("error" in outcome) w.reject(outcome.error);
        else w.resolve(outcome.info);
      }
    };
    const ids = [...byId.keys()];
    try {
      const shell = await this.shell();
      const command = squeueCommand(ids, cluster);
      const r = await shell.run(command);
      // squeue exits 1 with "Invalid job id" when it knows none of them.
      if (r.code !== 0 && !isInvalidJobId(r.stderr)) {
        throw new SlurmCommandError(`squeue failed on ${shell.where} (exit code ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`, command, r.stderr);
      }
      const listed = r.code === 0 ? parseSqueue(r.stdout) : new Map<string, JobInfo>();
      await Promise.all(
        ids.map(async (id) => {
          try {
            const info = listed.get(id) ?? (await scontrol(shell, id, cluster));
            settle(id, { info });
          } catch (error) {
            settle(id, { error });
          }
        }),
      );
    } catch (error) {
      for (const id of ids) settle(id, { error });
    }
  }
}

async function scontrol(shell: ClusterShell, id: string, cluster: string | undefined): Promise<JobInfo | undefined> {
  const command = scontrolCommand(id, cluster);
  const r = await shell.run(command);
  if (r.code !== 0) {
    if (isInvalidJobId(r.stderr)) return undefined;
    throw new SlurmCommandError(`scontrol failed on ${shell.where} (exit code ${r.code}): ${r.stderr.trim()}`, command, r.stderr);
  }
  return parseScontrol(r.stdout);
}
