// The package table of DESIGN.md as a test: arrows only point down.
// SDK (sdk, codec, executor, task-runner, ids, errors, status) never imports the engine at run time;
// the engine never imports the client (server discovery, HTTP), the client never the server, nothing the CLI. Type-only imports are allowed.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const src = dirname(fileURLToPath(import.meta.url));
const LAYER: Record<string, number> = { sdk: 0, codec: 0, executor: 0, "task-runner": 0, engine: 1, api: 1, client: 2, server: 3, cli: 4 };
const layerOf = (file: string) => {
  const top = relative(src, file).split(/[\\/]/)[0] as string;
  return LAYER[top] ?? 0; // ids.ts, errors.ts, status.ts, index.ts: the SDK
};

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out);
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts") && !p.includes("test-support")) out.push(p);
  }
  return out;
}

it("keeps the dependency arrows pointing down (SDK → nothing, engine → SDK, client → engine, server → client, CLI → all)", () => {
  const violations: string[] = [];
  for (const file of files(src)) {
    const text = readFileSync(file, "utf8");
    const specifiers = [
      // import/export … from "x" (not `import type`), bare `import "x"`, and literal dynamic `import("x")`
      ...[...text.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^'"]*?from\s+["'](\.[^"']+)["']/gm)].filter((m) => !m[1]).map((m) => m[2]),
      ...[...text.matchAll(/^\s*import\s+["'](\.[^"']+)["']/gm)].map((m) => m[1]),
      ...[...text.matchAll(/(?<!typeof\s)import\(\s*["'](\.[^"']+)["']\s*\)/g)].map((m) => m[1]),
    ];
    for (const spec of specifiers) {
      const target = resolve(dirname(file), spec as string);
      if (layerOf(target) > layerOf(file)) violations.push(`${relative(src, file)} imports ${spec}`);
    }
  }
  assert.deepEqual(violations, []);
});
