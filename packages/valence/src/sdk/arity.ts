/**
 * How many arguments a function declares, read from its source text: `fn.length`
 * stops at the first default value and cannot see a rest parameter, and a
 * lattice called with the wrong number of arguments should fail at dispatch,
 * not halfway through a run.
 */
export interface Arity {
  readonly required: number;
  /** Infinity when there is a rest parameter. */
  readonly max: number;
  readonly names: readonly string[];
}

export function arityOf(fn: (...a: never[]) => unknown): Arity {
  const params = paramList(fn.toString());
  if (params === undefined) return { required: fn.length, max: Number.POSITIVE_INFINITY, names: [] };
  const parts = splitTopLevel(params).map((p) => p.trim()).filter(Boolean);
  const rest = parts.some((p) => p.startsWith("..."));
  const names = parts.map((p) => p.replace(/^\.\.\./, "").split(/[=:]/)[0]!.trim());
  return { required: fn.length, max: rest ? Number.POSITIVE_INFINITY : parts.length, names };
}

function paramList(src: string): string | undefined {
  const arrowSingle = /^\s*(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(src);
  if (arrowSingle) return arrowSingle[1];
  const open = src.indexOf("(");
  if (open < 0) return undefined;
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    const c = src[i];
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      depth--;
      if (depth === 0) return src.slice(open + 1, i);
    } else if (c === '"' || c === "'" || c === "`") {
      const end = src.indexOf(c, i + 1);
      if (end < 0) return undefined;
      i = end;
    }
  }
  return undefined;
}

function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}
