/**
 * zod, loaded on first use. It costs ~35 ms to load, and most processes never
 * validate anything with it (no config file, no plugin packages): a script's
 * first dispatch should not pay for it.
 */
import { createRequire } from "node:module";
import type * as Zod from "zod";

const require = createRequire(import.meta.url);
let loaded: typeof Zod | undefined;

export function zod(): typeof Zod {
  loaded ??= require("zod") as typeof Zod;
  return loaded;
}

/** Builds a schema once, on first call. */
export function lazySchema<T>(build: (z: typeof Zod.z) => T): () => T {
  let schema: T | undefined;
  return () => (schema ??= build(zod().z));
}
