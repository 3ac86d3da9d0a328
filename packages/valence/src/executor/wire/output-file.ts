/**
 * `output.jsonl` in a task's directory: what a task run by a `valence-task`
 * process of its own (or by a Slurm pilot) has printed so far, so that the
 * dispatcher can follow it while the task runs (Slurm jobs, ssh's and Dask's
 * `isolation: "process"`). The result file still carries all of the output;
 * this file is the live copy.
 *
 * One JSON object per line, `{"stream":"stdout","text":"…"}`, appended in the
 * order the task wrote, ASCII only (every other character `\uXXXX`-escaped):
 * a reader may then count bytes as characters, and a read that ends inside a
 * line is simply read again from that line's start next time.
 */
import type { OutputStream } from "../capture.js";

export const OUTPUT_FILE = "output.jsonl";

export interface OutputChunk {
  readonly stream: OutputStream;
  readonly text: string;
}

/** One line of the file, newline included. */
export function outputFileLine(stream: OutputStream, text: string): string {
  // JSON.stringify leaves non-ASCII as is; escaping it keeps byte offsets equal to string offsets.
  const json = JSON.stringify({ stream, text }).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return `${json}\n`;
}

/**
 * The chunks of the whole lines in `text` (the file read from some offset),
 * and how many characters (= bytes) they took: the next read starts that
 * far on. A line that does not parse is skipped, never thrown: the live copy
 * is a convenience.
 */
export function parseOutputFile(text: string): { chunks: OutputChunk[]; consumed: number } {
  const end = text.lastIndexOf("\n");
  if (end < 0) return { chunks: [], consumed: 0 };
  const chunks: OutputChunk[] = [];
  for (const line of text.slice(0, end).split("\n")) {
    if (!line) continue;
    try {
      const o = JSON.parse(line) as Partial<OutputChunk>;
      if ((o.stream === "stdout" || o.stream === "stderr") && typeof o.text === "string") chunks.push({ stream: o.stream, text: o.text });
    } catch {
      // a torn or foreign line: skip it
    }
  }
  return { chunks, consumed: end + 1 };
}
