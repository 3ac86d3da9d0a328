/**
 * Trims a task error's stack to the user's frames: Valence's own frames and
 * Node's internals say nothing about what the user should fix.
 */
import { fileURLToPath } from "node:url";

// packages/valence/ (from src/engine/run or dist/engine/run): the SDK and engine, whichever copy ran.
const PACKAGE_DIR = fileURLToPath(new URL("../../../", import.meta.url));

export function trimStack(error: Error): Error {
  if (!error.stack) return error;
  const [head, ...frames] = error.stack.split("\n");
  const kept = frames.filter(
    (f) => !f.includes("node:internal") && !f.includes(PACKAGE_DIR) && !f.includes("/node_modules/valence/") && !/\bbundles\/[0-9a-f]{16,}\.mjs/.test(f),
  );
  try {
    error.stack = [head, ...kept].join("\n");
  } catch {
    /* frozen error objects keep their stack */
  }
  return error;
}
