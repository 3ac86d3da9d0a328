/**
 * Trims a task error's stack to the user's frames: Valence's own frames and
 * Node's internals say nothing about what the user should fix.
 */
import { fileURLToPath } from "node:url";

// packages/valence/{src,dist}/ (this file is in src/engine/run or dist/engine/run): the SDK and engine.
const PACKAGE_DIR = fileURLToPath(new URL("../../../", import.meta.url));
const OWN_DIRS = [`${PACKAGE_DIR}src/`, `${PACKAGE_DIR}dist/`, "/node_modules/valence/"];

export function trimStack(error: Error): Error {
  if (!error.stack) return error;
  const [head, ...frames] = error.stack.split("\n");
  const kept = frames.filter(
    (f) => !f.includes("(node:") && !/at node:/.test(f) && !OWN_DIRS.some((d) => f.includes(d)) && !/\bbundles\/[0-9a-f]{16,}\.mjs/.test(f),
  );
  try {
    error.stack = [head, ...kept].join("\n");
  } catch {
    /* frozen error objects keep their stack */
  }
  return error;
}
