/** `valence/engine`: the embedded engine. The SDK loads it lazily; plugins never import it. */
export { Engine } from "./engine.js";
export type { GetResultOptions } from "./engine.js";
