/**
 * A task's cancel switch, with the AbortSignal made only if someone asks for
 * it. An AbortController costs microseconds and garbage; most in-process
 * tasks finish synchronously without ever looking at their signal.
 */
export class LazyAbort {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  #watchers: Set<() => void> | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    if (this.#watchers) for (const w of this.#watchers) w();
  }

  /** Calls `onAbort` once if the task is aborted; the returned function stops watching. */
  watch(onAbort: () => void): () => void {
    this.#watchers ??= new Set();
    this.#watchers.add(onAbort);
    return () => void this.#watchers?.delete(onAbort);
  }
}
