import { parseArgs, type ParseArgsConfig } from "node:util";
import { ValenceError } from "../errors.js";

/** The shape every CLI command has; `main` is the only place that exits the process. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** Returns the exit code. */
  run(argv: string[]): Promise<number>;
}

export class UsageError extends ValenceError {
  override readonly code = "USAGE";
  constructor(message: string, readonly usage: string) {
    super(message);
  }
}

/** `util.parseArgs`, with its errors (unknown option, missing value) turned into a UsageError. */
export function parseOrUsage<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    throw new UsageError((error as Error).message, usage);
  }
}

export function wantsHelp(argv: readonly string[]): boolean {
  const stop = argv.indexOf("--");
  const head = stop < 0 ? argv : argv.slice(0, stop);
  return head.includes("--help") || head.includes("-h");
}
