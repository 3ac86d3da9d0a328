import { ValenceError } from "../errors.js";

/**
 * A worker loaded a task's bundle and the electron it was asked to run was
 * not among the ones the bundle registered: the bundle is stale, the electron
 * is defined somewhere the entry module does not import, or it is defined
 * after a top-level `await` that never finishes in a worker.
 */
export class ElectronNotFoundError extends ValenceError {
  override readonly code = "ELECTRON_NOT_FOUND";
  constructor(
    readonly electronId: string,
    readonly bundlePath: string,
    /** The bundle's top-level code is stuck on an await, rather than finished. */
    readonly stalled = false,
  ) {
    super(
      `electron ${electronId} not found in bundle ${bundlePath}: ` +
        (stalled
          ? `the bundle's top-level code is waiting on something that cannot finish in a worker ` +
            `(usually a top-level \`await dispatch(...)\`, which never settles there) and the electron is not defined before it. ` +
            `Define electrons before the first top-level await`
          : `define it at the top level of the dispatched module or of a module it imports`),
    );
  }
}
