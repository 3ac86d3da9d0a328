/**
 * A module shaped like a user's script: electrons, then a top-level await that
 * never settles in a worker (as `await dispatch(...)` does there), then an
 * electron defined too late.
 */
import { registerElectron } from "../../../../sdk/global-registry.js";

registerElectron("blocked.before", (x: number) => x * 10);

await new Promise(() => {});

registerElectron("blocked.after", () => 1);
