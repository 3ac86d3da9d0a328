/**
 * A directory watch while it runs (chokidar): a file added or changed under the directory,
 * once its writes have finished (`awaitWriteFinish`: its size has held still for a moment, so
 * a half-written file does not fire), fires with its absolute path.
 *
 * Each fire's key is the file's version (`mtimeMs:path`), so a version fires once. Chokidar's
 * initial scan is not used: when the watch starts (the server starts, or the trigger resumes)
 * one scan of its own fires the files whose mtime is after the moment the trigger was armed
 * and whose version has not fired: files that arrived or changed while the server was down
 * are caught up, files already there when it was registered or while it was paused are not.
 * Hidden files (a name starting with ".": editors' swap files, partial downloads) never fire.
 */
import { readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { watch, type FSWatcher } from "chokidar";
import type { TriggerRecord } from "../../engine/store/triggers.js";

/** How long a file's size must hold still before it counts as written. */
export const WRITE_FINISH_MS = 300;

const hidden = (path: string) => basename(path).startsWith(".");

export const fileKey = (path: string, mtimeMs: number): string => `${Math.floor(mtimeMs)}:${path}`;

export class WatchTrigger {
  private watcher: FSWatcher | undefined;
  private stopped = false;
  /** Fires under way: `stop` waits for them, so none writes to a store that is closing. */
  private readonly firing = new Set<Promise<void>>();

  constructor(
    private readonly t: TriggerRecord,
    /** Fires for one version of a file (dedup is the fire's claim, keyed by `fileKey`). */
    private readonly fire: (path: string, mtimeMs: number) => Promise<void>,
    private readonly log: (line: string) => void,
  ) {}

  /** Resolves once the watch is listening and the catch-up scan has fired what it found. */
  async start(): Promise<void> {
    const w = watch(this.t.spec, {
      ignoreInitial: true,
      alwaysStat: true,
      awaitWriteFinish: { stabilityThreshold: WRITE_FINISH_MS, pollInterval: 50 },
      ignored: (path: string) => path !== this.t.spec && hidden(path),
    });
    this.watcher = w;
    const seen = (path: string, stats?: { mtimeMs: number; isFile(): boolean }) => {
      if (this.stopped || hidden(path)) return;
      const s = stats ?? statOf(path);
      if (!s?.isFile()) return;
      const p: Promise<void> = this.fire(path, s.mtimeMs).finally(() => this.firing.delete(p));
      this.firing.add(p);
    };
    w.on("add", seen);
    w.on("change", seen);
    w.on("error", (error) => this.log(`trigger ${this.t.id}: watching ${this.t.spec}: ${(error as Error).message}`));
    await new Promise<void>((resolve) => w.once("ready", () => resolve()));
    // After `ready`: a file written during the scan is reported by the watch too; its key makes it fire once.
    for (const { path, mtimeMs } of filesUnder(this.t.spec)) {
      if (this.stopped) break;
      if (mtimeMs > this.t.armedAt) await this.fire(path, mtimeMs);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watcher?.close();
    await Promise.all([...this.firing]);
  }
}

function statOf(path: string): { mtimeMs: number; isFile(): boolean } | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined; // gone again already
  }
}

/** Every non-hidden file under `dir`, recursively. */
function filesUnder(dir: string): Array<{ path: string; mtimeMs: number }> {
  const out: Array<{ path: string; mtimeMs: number }> = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(path));
    else if (e.isFile()) {
      const s = statOf(path);
      if (s) out.push({ path, mtimeMs: s.mtimeMs });
    }
  }
  return out;
}
