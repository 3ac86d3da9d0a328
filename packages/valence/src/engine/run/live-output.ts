/**
 * A running task's output, kept while it runs: executors hand over chunks
 * (RunningTask.live), and every FLUSH_MS the chunks of the whole dispatch go
 * to the store in one write, so a 20-minute task's printed lines can be
 * followed (the node panel, `valence logs DISPATCH NODE -f`) and survive a
 * restart. When the node ends its outcome carries the whole output, which
 * replaces the chunks; a dispatch that starts (or resumes) clears what a killed
 * run left (DispatchRun.start).
 *
 * Output is capped per task and stream (`output_limit`): past the cap the
 * rest is dropped and a marker says how much, so a chatty task cannot fill
 * the disk. The final stdout/stderr are cut the same way (`capOutput`).
 */
import type { DispatchId } from "../../ids.js";
import type { Store, StoreWrites } from "../store/store.js";
import type { NodeOutputSink } from "./running-task.js";
import type { OutputStream } from "../../executor/capture.js";

const FLUSH_MS = 250;


/** How every cut marker starts: a reader of live chunks knows from it that the stream was cut. */
export const CUT_MARKER_START = "[valence: output cut at the limit of ";

/** The line that ends output cut at `limit` bytes; `dropped` is how many bytes went. */
export function cutMarker(limit: number, dropped: number | undefined): string {
  const more = dropped === undefined ? "the rest" : `${dropped} more bytes`;
  return `\n${CUT_MARKER_START}${limit} bytes (output_limit); ${more} not kept]\n`;
}

/** `text` as stored: whole when within `limit` bytes, else its first `limit` bytes and the cut marker. */
export function capOutput(text: string, limit: number): string {
  // A UTF-16 unit is at most 3 UTF-8 bytes: most outputs are answered without counting.
  if (text.length * 3 <= limit) return text;
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= limit) return text;
  return utf8Prefix(bytes, limit) + cutMarker(limit, bytes.length - limit);
}

/** The longest start of `bytes` within `limit` bytes that does not cut a character in half. */
function utf8Prefix(bytes: Buffer, limit: number): string {
  let end = Math.min(limit, bytes.length);
  // 0b10xxxxxx is a continuation byte: the character it belongs to started before.
  while (end > 0 && end < bytes.length && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8");
}

interface NodeOutput {
  /** Bytes kept so far, per stream, this attempt. */
  kept: { stdout: number; stderr: number };
  cut: { stdout: boolean; stderr: boolean };
  pending: Array<{ stream: OutputStream; text: string }>;
  /** Some of its chunks are in the store (so its end clears them). */
  stored: boolean;
}


export class LiveOutput implements NodeOutputSink {
  private readonly nodes = new Map<number, NodeOutput>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly dispatchId: DispatchId,
    private readonly store: Store,
    readonly limit: number,
    /** A flush failed: the store is in trouble, which the dispatch's own writes will report. */
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  append(node: number, stream: OutputStream, text: string): void {
    if (this.closed || text === "") return;
    let out = this.nodes.get(node);
    if (!out) {
      out = { kept: { stdout: 0, stderr: 0 }, cut: { stdout: false, stderr: false }, pending: [], stored: false };
      this.nodes.set(node, out);
    }
    if (out.cut[stream]) return;
    const room = this.limit - out.kept[stream];
    const bytes = Buffer.byteLength(text, "utf8");
    if (bytes > room) {
      const kept = utf8Prefix(Buffer.from(text, "utf8"), Math.max(0, room));
      out.pending.push({ stream, text: kept + cutMarker(this.limit, undefined) });
      out.kept[stream] = this.limit;
      out.cut[stream] = true;
    } else {
      out.pending.push({ stream, text });
      out.kept[stream] += bytes;
    }
    this.scheduleFlush();
  }

  /**
   * The node's attempt has ended (its outcome is being written in `w`): its
   * unsent chunks are dropped and its stored ones cleared, since the outcome
   * has the whole output; a retry starts counting afresh.
   */
  ended(node: number, w: StoreWrites): void {
    const out = this.nodes.get(node);
    if (!out) return;
    this.nodes.delete(node);
    if (out.stored) w.liveOutputCleared(this.dispatchId, node);
  }

  /** The dispatch is over: no more flushes. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private scheduleFlush(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, FLUSH_MS);
  }

  /** One write for every node's pending chunks. */
  flush(): void {
    const batch: Array<{ node: number; stream: OutputStream; text: string }> = [];
    for (const [node, out] of this.nodes) {
      if (out.pending.length === 0) continue;
      for (const c of out.pending) batch.push({ node, stream: c.stream, text: c.text });
      out.pending = [];
      out.stored = true;
    }
    if (batch.length === 0 || this.closed) return;
    const at = Date.now();
    this.store.write((w) => w.liveOutputAppended(this.dispatchId, batch, at)).catch(this.onError);
  }
}
