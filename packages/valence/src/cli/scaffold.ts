/**
 * Renders a template directory under `packages/valence/templates/` into a
 * new project: what `valence new` builds on. Templates are real files, so they
 * can be read, diffed and tested as the project they become.
 */
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** `packages/valence/templates/`, from `src/cli/` and from `dist/cli/` alike. */
export const TEMPLATES_DIR = fileURLToPath(new URL("../../templates/", import.meta.url));

export interface ScaffoldFile {
  /** Relative to the project's root, with `/` separators. */
  readonly path: string;
  readonly contents: string;
}

/** Files npm leaves out of published packages, stored under another name in the templates. */
const RENAMED: Readonly<Record<string, string>> = { gitignore: ".gitignore" };

/**
 * Reads the template `layers` (directory names under `TEMPLATES_DIR`) in
 * order, a later layer's file replacing an earlier one's of the same path,
 * and replaces every `__KEY__` whose KEY is in `values`. Sorted by path.
 *
 * @example
 * await renderTemplate(["executor", "executor-remote"], { NAME: "slurm", CLASS_NAME: "SlurmExecutor" });
 */
export async function renderTemplate(layers: readonly string[], values: Readonly<Record<string, string>>): Promise<ScaffoldFile[]> {
  const placeholder = new RegExp(`__(${Object.keys(values).join("|")})__`, "g");
  const files = new Map<string, string>();
  for (const layer of layers) {
    const root = join(TEMPLATES_DIR, layer);
    const found = await listFiles(root).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
      throw new Error(`the "${layer}" template is missing from ${TEMPLATES_DIR}: reinstall valence`, { cause: error });
    });
    for (const file of found) {
      const rel = relative(root, file).split(/[\\/]/);
      const base = rel.pop() as string;
      const path = [...rel, RENAMED[base] ?? base].join("/");
      files.set(path, (await readFile(file, "utf8")).replace(placeholder, (_, key: string) => values[key] as string));
    }
  }
  return [...files].map(([path, contents]) => ({ path, contents })).sort((a, b) => a.path.localeCompare(b.path));
}

/** Writes `files` under `dir`, refusing to overwrite anything that appeared there meanwhile. */
export async function writeScaffold(dir: string, files: readonly ScaffoldFile[]): Promise<void> {
  for (const file of files) {
    const target = join(dir, ...file.path.split("/"));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.contents, { flag: "wx" });
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(p)));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}
