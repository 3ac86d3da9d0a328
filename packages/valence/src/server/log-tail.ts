/** The server log's tail for the dashboard: whole lines from a byte offset, and where to ask from next. */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** The log's first answer: at most this many bytes from its end. */
const LOG_TAIL_BYTES = 64 * 1024;

/** The log from byte `after` (or its last part), whole lines only, and where to ask from next. */
export function readLog(file: string, after: number | undefined): { exists: boolean; text: string; offset: number; size: number } {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return { exists: false, text: "", offset: 0, size: 0 };
  }
  try {
    const size = fstatSync(fd).size;
    // A log that shrank was rotated or truncated: start over from its tail.
    let start = after === undefined || after > size ? Math.max(0, size - LOG_TAIL_BYTES) : after;
    const end = Math.min(size, start + 4 * LOG_TAIL_BYTES);
    const buf = Buffer.alloc(end - start);
    readSync(fd, buf, 0, buf.length, start);
    let text = buf.toString("utf8");
    if ((after === undefined || after > size) && start > 0) {
      const nl = text.indexOf("\n");
      text = nl >= 0 ? text.slice(nl + 1) : "";
    }
    // Keep a half-written last line for the next answer.
    const lastNl = text.lastIndexOf("\n");
    const whole = lastNl >= 0 ? text.slice(0, lastNl + 1) : "";
    start = end - Buffer.byteLength(text.slice(whole.length));
    return { exists: true, text: whole, offset: start, size };
  } finally {
    closeSync(fd);
  }
}
