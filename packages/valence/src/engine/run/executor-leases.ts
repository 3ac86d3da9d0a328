/**
 * Set-up and tear-down of executors shared between dispatches.
 *
 * One executor instance may serve several dispatches at once (a name like
 * "local" resolves to one instance per process; a sublattice runs as a child
 * dispatch on its parent's executors), so `setup` runs when the first
 * dispatch starts using it and `teardown` when the last one stops.
 */
import type { Executor } from "../../executor/executor.js";

interface Lease {
  users: number;
  ready: Promise<void>;
}

export class ExecutorLeases {
  private readonly leases = new Map<Executor, Lease>();

  /** Resolves once the executor is set up; every call needs one `release`. */
  acquire(executor: Executor): Promise<void> {
    let lease = this.leases.get(executor);
    if (!lease) {
      lease = { users: 0, ready: executor.setup() };
      this.leases.set(executor, lease);
    }
    lease.users++;
    return lease.ready;
  }

  /** Tears the executor down when its last user releases it. Never throws. */
  async release(executor: Executor): Promise<void> {
    const lease = this.leases.get(executor);
    if (!lease || --lease.users > 0) return;
    this.leases.delete(executor);
    await lease.ready.then(() => executor.teardown()).catch(() => undefined);
  }
}
