/**
 * Follows a running task's `output.jsonl` (wire/output-file.ts) for executors
 * whose tasks run in a `valence-task` process of their own and learn nothing
 * of its output until the result: Slurm jobs and pilots, ssh's and Dask's
 * `isolation: "process"`. Every `everyMs` it reads the file from where it
 * stopped and hands the new chunks to the task's live sink.
 */
import { open } from "node:fs/promises";
import type { LiveSink } from "../capture.js";
import { parseOutputFile } from "../wire/output-file.js";

/** Reads the file from `offset` (bytes, which are characters here) to its end; undefined while it does not exist. */
export type OutputFileReader = (offset: number) => Promise<string | undefined>;

export interface OutputFollower {
  /** Stops reading; no chunk reaches the sink after this returns (the task's result carries all of it). */
  stop(): void;
}

export function followOutputFile(read: OutputFileReader, live: LiveSink, everyMs: number): OutputFollower {
  let stopped = false;
  let wake: (() => void) | undefined;
  void (async () => {
    let offset = 0;
    while (!stopped) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, everyMs).unref();
      });
      if (stopped) return;
      // A failed read (a connection blip, a file not there yet) is tried again next round.
      const text = await read(offset).catch(() => undefined);
      if (stopped || text === undefined) continue;
      const { chunks, consumed } = parseOutputFile(text);
      offset += consumed;
      try {
        for (const chunk of chunks) live(chunk.stream, chunk.text);
      } catch {
        // the live copy is a convenience: a failing sink does not stop the task
      }
    }
  })();
  return {
    stop() {
      stopped = true;
      wake?.();
    },
  };
}

/** A file on this machine read from `offset` to its end (as latin1: the output file is ASCII); undefined if it does not exist. */
export async function readFileFrom(path: string, offset: number): Promise<string | undefined> {
  const file = await open(path, "r").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (!file) return undefined;
  try {
    const { size } = await file.stat();
    if (size <= offset) return "";
    const buffer = Buffer.alloc(size - offset);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
    return buffer.toString("latin1", 0, bytesRead);
  } finally {
    await file.close();
  }
}
