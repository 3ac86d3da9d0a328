/**
 * Executors as written on electrons (an instance, a registry name, or
 * nothing for the config's default) turned into instances: one instance per
 * name per process, so a dispatch's electrons share its pool and limits.
 */
import type { Executor } from "../../executor/executor.js";
import type { ExecutorRef } from "../../sdk/graph.js";
import type { ExecutorRegistry } from "./types.js";

export class ExecutorResolver {
  private readonly byName = new Map<string, Promise<Executor>>();

  constructor(
    private readonly registry: ExecutorRegistry,
    private readonly defaultName: string,
  ) {}

  resolve(ref: ExecutorRef | undefined): Promise<Executor> {
    const r = ref ?? this.defaultName;
    if (typeof r !== "string") return Promise.resolve(r);
    let p = this.byName.get(r);
    if (!p) {
      p = this.registry.create(r) as Promise<Executor>;
      this.byName.set(r, p);
      // A failed name (unknown, bad options) is tried again next time, not remembered.
      p.catch(() => this.byName.delete(r));
    }
    return p;
  }
}
