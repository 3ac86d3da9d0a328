/**
 * Tasks for driving an executor directly, as the dispatcher would: the
 * executor contract's electrons (`contract.add`, `contract.sleep`, …),
 * bundled with esbuild the way a dispatch bundles its entry module.
 */
import { createRequire } from "node:module";
import { mkdir, writeFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Task } from "valence/executor";

const valence = createRequire(import.meta.url).resolve("valence/package.json");
const FIXTURE = join(valence, "..", "dist", "executor", "test-support", "fixtures", "contract-electrons.js");

/**
 * Bundles the contract electrons into `dir`; returns the bundle's path (named by its hash, as dispatches name theirs).
 * With `tag`, the bundle sets `globalThis.valenceContractTag` first: other content, another hash, and
 * `contract.tag` answers with it (a changed build of the same code).
 */
export async function bundleContractElectrons(dir: string, tag?: string): Promise<string> {
  // esbuild is valence's dependency, resolved from there.
  const esbuildPath = createRequire(valence).resolve("esbuild");
  const { build } = (await import(pathToFileURL(esbuildPath).href)) as typeof import("esbuild");
  const out = await build({
    entryPoints: [FIXTURE],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "inline",
    banner: {
      js:
        'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' +
        (tag === undefined ? "" : ` globalThis.valenceContractTag = ${JSON.stringify(tag)};`),
    },
    write: false,
    logLevel: "silent",
  });
  const contents = out.outputFiles[0]?.contents as Uint8Array;
  const path = join(dir, `${createHash("sha256").update(contents).digest("hex")}.mjs`);
  await mkdir(dir, { recursive: true });
  await writeFile(path, contents);
  return path;
}

let nodeId = 1000;

/** A task calling the contract electron `name` (e.g. "contract.sleep") with `args`. */
export function contractTask(bundlePath: string, name: string, args: unknown[], signal = new AbortController().signal): Task {
  return {
    meta: { dispatchId: "dsp_sshtest0000" as Task["meta"]["dispatchId"], nodeId: ++nodeId as Task["meta"]["nodeId"], resultsDir: join(bundlePath, "..") },
    electronId: name as Task["electronId"],
    electronName: name,
    fn: undefined,
    args,
    kwargs: {},
    bundlePath,
    signal,
  } as unknown as Task;
}
