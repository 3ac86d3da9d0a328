/**
 * Notices that a module's evaluation can never finish.
 *
 * A user's module may stop at a top-level `await` that cannot settle in a
 * worker (a top-level `await dispatch(...)` never settles there, by design).
 * Electrons defined before it work; one defined after it never registers,
 * and a task waiting for it would wait forever. Node itself spots this case
 * in a main module (exit code 13: the loop is empty while the module is still
 * pending); in a worker the IPC channel keeps the loop alive, so the same test
 * is made here: the process holds no handle or request beyond the ones it had
 * at start-up, so nothing can ever resume the module.
 */

/** Resources of a fresh worker (its IPC channel, stdio pipes; a loader's under tsx). */
let baseline = new Map<string, number>();

/** Call once the worker has set itself up (its message listener refs the channel) and before any user code. */
export function recordBaseline(): void {
  // stdout and stderr get their pipe handles on first use, which capture
  // (and any task's console.log) makes later: make them now, so they count
  // as start-up resources rather than as signs of life.
  void process.stdout;
  void process.stderr;
  baseline = countByType(process.getActiveResourcesInfo());
}

const POLL_MS = 100;
/** Consecutive idle polls before concluding: a transient gap between two reads is not a stall. */
const POLLS = 3;

/**
 * Calls `onStall` once the process has been idle (nothing beyond its start-up
 * resources) for `POLLS` polls in a row. Returns a function that stops watching.
 */
export function watchStall(onStall: () => void): () => void {
  let idlePolls = 0;
  const timer = setInterval(() => {
    idlePolls = isIdle() ? idlePolls + 1 : 0;
    if (idlePolls >= POLLS) {
      clearInterval(timer);
      onStall();
    }
  }, POLL_MS);
  // The watch itself must not count as activity, nor keep the worker alive.
  timer.unref();
  return () => clearInterval(timer);
}

function isIdle(): boolean {
  for (const [type, n] of countByType(process.getActiveResourcesInfo())) {
    if (n > (baseline.get(type) ?? 0)) return false;
  }
  return true;
}

function countByType(types: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of types) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}
