/** The shape every CLI command has; `main` is the only place that exits the process. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** Returns the exit code. */
  run(argv: string[]): Promise<number>;
}

export class UsageError extends Error {
  constructor(message: string, readonly usage: string) {
    super(message);
  }
}

export function wantsHelp(argv: readonly string[]): boolean {
  const stop = argv.indexOf("--");
  const head = stop < 0 ? argv : argv.slice(0, stop);
  return head.includes("--help") || head.includes("-h");
}
