/**
 * Where an `electron(...)` or `lattice(...)` call was written.
 *
 * The call site gives a definition two things: a stable id, the same in the
 * user's process and in a worker that loads the bundle (workers enable source
 * maps, so both see the user's original file and line), and a name when the
 * function is anonymous, read from the binding it is assigned to
 * (`const add = electron((x, y) => x + y)` is named "add", as in Covalent).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { originalSite, type CallSite } from "./source-map.js";

const FRAME = /\(?((?:file:\/\/|\/|[A-Za-z]:\\)[^()]*?):(\d+):(\d+)\)?\s*$/;

/** The call site of `fn`'s caller; undefined when the stack has no usable frame. */
export function callerOf(fn: (...a: never[]) => unknown): CallSite | undefined {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 1;
  Error.captureStackTrace(holder, fn);
  Error.stackTraceLimit = limit;
  const frame = holder.stack?.split("\n")[1];
  const m = frame ? FRAME.exec(frame) : null;
  if (!m) return undefined;
  const raw = m[1] as string;
  const file = raw.startsWith("file://") ? fileURLToPath(raw) : raw;
  return originalSite({ file, line: Number(m[2]), column: Number(m[3]) });
}

/** `dir/file.ts:LINE`: short, host-independent, stable across source-mapped bundles. */
export function siteKey(site: CallSite | undefined): string {
  if (!site) return "anonymous";
  const parts = site.file.split(/[\\/]/).filter(Boolean);
  return `${parts.slice(-2).join("/")}:${site.line}`;
}

const lineCache = new Map<string, string[] | null>();

function sourceLine(file: string, line: number): string | undefined {
  let lines = lineCache.get(file);
  if (lines === undefined) {
    try {
      lines = readFileSync(file, "utf8").split("\n");
    } catch {
      lines = null; // e.g. a bundle on a host without the sources: names are only for display
    }
    lineCache.set(file, lines);
  }
  return lines?.[line - 1];
}

const BINDING = /([A-Za-z_$][\w$]*)\s*(?::[^=;]*)?=\s*$/;
const PROPERTY = /([A-Za-z_$][\w$]*)\s*:\s*$/;

/** The name the call's result is bound to (`const add = electron(...)` → "add"). */
export function boundName(site: CallSite | undefined): string | undefined {
  if (!site) return undefined;
  const text = sourceLine(site.file, site.line);
  if (!text) return undefined;
  const before = text.slice(0, Math.max(0, site.column - 1));
  return (BINDING.exec(before) ?? PROPERTY.exec(before))?.[1];
}

/** Most lines a definition's text may span before it is taken as unreadable. */
const MAX_DEFINITION_LINES = 400;

/**
 * The text of the definition written at `site`, as the user wrote it: from
 * the start of its line to the parenthesis that closes the call
 * (`export const add = electron((x: number, y: number) => x + y, { … });`).
 * Undefined when the file is not readable here or the call cannot be found.
 * (Function `toString` would show what tsx compiled, types and layout gone.)
 */
export function definitionText(site: CallSite): string | undefined {
  const first = sourceLine(site.file, site.line);
  if (first === undefined) return undefined;
  const lines: string[] = [];
  let depth = 0;
  let opened = false;
  let quote: string | undefined;
  for (let l = site.line; l < site.line + MAX_DEFINITION_LINES; l++) {
    const text = sourceLine(site.file, l);
    if (text === undefined) return undefined;
    lines.push(text);
    const from = l === site.line ? Math.max(0, site.column - 1) : 0;
    for (let i = from; i < text.length; i++) {
      const c = text[i] as string;
      if (quote) {
        if (c === "\\") i++;
        else if (c === quote) quote = undefined;
        continue;
      }
      if (c === "/" && text[i + 1] === "/") break; // line comment
      if (c === '"' || c === "'" || c === "`") quote = c;
      else if (c === "(" || c === "[" || c === "{") {
        depth++;
        opened = true;
      } else if (c === ")" || c === "]" || c === "}") {
        depth--;
        if (opened && depth === 0) {
          const rest = text.slice(i + 1);
          lines[lines.length - 1] = text.slice(0, i + 1) + (rest.trimStart().startsWith(";") ? ";" : "");
          return lines.join("\n");
        }
      }
    }
    if (quote !== "`") quote = undefined; // a string cannot span lines; a template can
  }
  return undefined;
}
