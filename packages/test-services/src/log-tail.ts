import { closeSync, openSync, readSync, statSync } from "node:fs";

/**
 * The last `maxLines` lines of a log file under a header naming it, or "" if it is empty
 * or missing. Reads only the end of the file: daemon logs can grow large in a long run.
 */
export function logTail(file: string, maxLines = 20, maxBytes = 8192): string {
  let text: string;
  try {
    const size = statSync(file).size;
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    const fd = openSync(file, "r");
    try {
      readSync(fd, buf, 0, buf.length, start);
    } finally {
      closeSync(fd);
    }
    text = buf.toString("utf8");
  } catch {
    return "";
  }
  const lines = text.trimEnd().split("\n");
  if (lines.length === 0 || (lines.length === 1 && lines[0] === "")) return "";
  return `--- last lines of ${file} ---\n${lines.slice(-maxLines).join("\n")}`;
}

/** Tails of several logs, skipping the empty ones. */
export function logTails(files: readonly string[], maxLines = 20): string {
  return files.map((f) => logTail(f, maxLines)).filter((t) => t !== "").join("\n");
}
