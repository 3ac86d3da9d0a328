import { decode } from "../codec/index.js";

/**
 * A successful outcome that arrived encoded from another process. `encoded`
 * is what the dispatcher stores; `value` decodes on first read, for callers
 * that want the value itself, and only then. A class, so ten thousand of
 * them share one getter.
 */
export class EncodedOutcome {
  readonly ok = true as const;
  #decoded: { readonly value: unknown } | undefined;

  constructor(
    readonly encoded: string | undefined,
    readonly stdout: string,
    readonly stderr: string,
    /** Where it ran (TaskOutcome.lane). */
    readonly lane?: string,
    /** When its body began (TaskOutcome.startedAt). */
    readonly startedAt?: number,
  ) {}

  get value(): unknown {
    this.#decoded ??= { value: this.encoded === undefined ? undefined : decode(this.encoded) };
    return this.#decoded.value;
  }
}
