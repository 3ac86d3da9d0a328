/** The services this package can install and start. */
export type Component = "sshd" | "slurm" | "dask" | "postgres" | "rsync" | "s3";

/**
 * Thrown when a service cannot be installed or does not come up.
 *
 * The message names the component, what went wrong and the end of the relevant log, so a
 * failing integration test explains itself without anyone having to find the temp dir.
 *
 * @example
 *   try { await startSshd(dir); } catch (e) { if (e instanceof ServiceStartError) console.error(e.component); throw e; }
 */
export class ServiceStartError extends Error {
  override readonly name = "ServiceStartError";
  readonly code = "SERVICE_START_FAILED";
  readonly component: Component;
  readonly logTail: string;

  constructor(component: Component, what: string, options: { logTail?: string; cause?: unknown } = {}) {
    const tail = options.logTail?.trimEnd() ?? "";
    super(`${component}: ${what}${tail ? `\n${tail}` : ""}`, options.cause === undefined ? {} : { cause: options.cause });
    this.component = component;
    this.logTail = tail;
  }
}
