import { ValenceError } from "../../errors.js";

/** Where esbuild found a problem, in the user's source. */
export interface BundleProblem {
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly text: string;
}

/**
 * The entry module could not be bundled (syntax error, unresolved import,
 * a native `.node` addon). The message names each file, line and esbuild's
 * complaint, so the user can fix their code without reading esbuild output.
 */
export class BundleError extends ValenceError {
  override readonly code = "BUNDLE_ERROR";
  constructor(
    readonly entryFile: string,
    readonly problems: readonly BundleProblem[],
    options?: { cause?: unknown },
  ) {
    super(`cannot bundle ${entryFile} for the workers:\n${problems.map(formatProblem).join("\n")}`, options);
  }
}

function formatProblem(p: BundleProblem): string {
  const where = p.file === undefined ? "" : `${p.file}${p.line === undefined ? "" : `:${p.line}:${(p.column ?? 0) + 1}`}: `;
  return `  ${where}${p.text}`;
}
