/** Options shared by the start functions. */
export interface StartOptions {
  /**
   * Leave the daemons running when this process exits (`npm run services:up`). They are then
   * stopped by PID (`services:down`) rather than by the handle's `stop()` from a later process.
   */
  detached?: boolean;
}
