/**
 * The Postgres store's write connection, one transaction at a time, and what a
 * write's tries know of it (see PostgresStore.write and its reconnecting).
 */
import type pg from "pg";

/** When and how a store tries again (PostgresStoreOptions, defaults filled in). */
export interface Reconnect {
  readonly limitMs: number;
  readonly firstMs: number;
  readonly maxMs: number;
  readonly keepIdsMs: number;
  readonly pruneEvery: number;
}

/** What a write's tries know of it: whether a COMMIT was sent and never confirmed, and not found out since. */
export interface WriteTries {
  inDoubt: boolean;
  /** The COMMIT's own failure, as pg gave it. */
  commitError?: unknown;
}

/**
 * The write connection, checked out for one transaction: its loss is heard (a connection lost
 * while checked out is an 'error' on it besides the failed query, which would otherwise end the
 * process), and it is dropped rather than handed to the next write when it was lost or could
 * not even roll back.
 */
export class Checkout {
  private lost = false;
  private broken = false;
  private readonly onLost = () => {
    this.lost = true;
  };

  constructor(readonly client: pg.PoolClient) {
    client.on("error", this.onLost);
  }

  async rollback(): Promise<void> {
    await this.client.query("ROLLBACK").catch(() => {
      this.broken = true;
    });
  }

  release(): void {
    this.client.off("error", this.onLost);
    this.client.release(this.lost || this.broken || undefined);
  }
}
