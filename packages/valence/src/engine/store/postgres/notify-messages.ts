/**
 * Messages between servers as Postgres notifications (postgres-cluster.ts).
 * A notification holds less than 8000 bytes, so a message is sent as one or
 * more parts of at most NOTIFICATION_BYTES each: a one-line JSON header
 * (sender, message id, part index, part count), a newline, then a slice of the
 * message's JSON text cut between UTF-8 characters. The far side joins the
 * parts by message id. All parts of a message are sent in one statement, so
 * they are delivered together or not at all; parts still missing after a
 * timeout (a connection dropped in the middle) are dropped, and so are the
 * oldest pending ones past a byte budget: memory stays bounded whatever arrives.
 */
import { randomUUID } from "node:crypto";

/** One notification at most, header included (Postgres refuses 8000 and over). */
export const NOTIFICATION_BYTES = 7000;

interface Header {
  /** The format's version. */
  readonly v: 1;
  readonly from: string;
  /** The message's id: its parts share it. */
  readonly id: string;
  readonly part: number;
  readonly parts: number;
}

/** A notification's parts, parsed; undefined for text that is not one (someone else's NOTIFY on the channel). */
export interface Part extends Header {
  readonly text: string;
}

/**
 * The notifications that carry `json` (a message's JSON text) from `from`. Each is at most
 * `limit` bytes; a slice never splits a character (JSON.stringify leaves no lone surrogates).
 */
export function splitMessage(from: string, json: string, limit = NOTIFICATION_BYTES): string[] {
  const id = randomUUID();
  const header = (part: number, parts: number) => JSON.stringify({ v: 1, from, id, part, parts } satisfies Header);
  // The widest header this message could have (8 digits of parts: 700 GB), so every part fits.
  const room = limit - Buffer.byteLength(header(99_999_999, 99_999_999)) - 1;
  if (room < 64) throw new RangeError(`a server id of ${Buffer.byteLength(from)} bytes leaves no room in a ${limit}-byte notification`);
  const bytes = Buffer.from(json, "utf8");
  const slices: string[] = [];
  for (let start = 0; start < bytes.length || slices.length === 0; ) {
    let end = Math.min(start + room, bytes.length);
    // Back off a UTF-8 continuation byte (10xxxxxx): a slice ends between characters.
    if (end < bytes.length) while (end > start && ((bytes[end] as number) & 0xc0) === 0x80) end--;
    slices.push(bytes.toString("utf8", start, end));
    start = end;
  }
  return slices.map((text, part) => `${header(part, slices.length)}\n${text}`);
}

const isCount = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0;

/** A notification's header and slice; undefined when it is not one of ours. */
export function parsePart(notification: string): Part | undefined {
  const nl = notification.indexOf("\n");
  if (nl < 0) return undefined;
  let h: Partial<Header>;
  try {
    h = JSON.parse(notification.slice(0, nl)) as Partial<Header>;
  } catch {
    return undefined;
  }
  if (!h || h.v !== 1 || typeof h.from !== "string" || typeof h.id !== "string" || !isCount(h.part) || !isCount(h.parts) || h.part >= h.parts) {
    return undefined;
  }
  return { v: 1, from: h.from, id: h.id, part: h.part, parts: h.parts, text: notification.slice(nl + 1) };
}

interface Pending {
  readonly from: string;
  readonly parts: number;
  readonly slices: Map<number, string>;
  chars: number;
  readonly timer: NodeJS.Timeout;
}

/** Joins parts into messages: a message is given once its last part is in, whatever their order. */
export class Reassembly {
  private readonly pending = new Map<string, Pending>();
  private chars = 0;

  constructor(
    /** A message still missing parts this long after its first arrived is dropped. */
    private readonly timeoutMs = 30_000,
    /** Characters of pending parts held at most; past it the oldest messages are dropped. */
    private readonly maxChars = 32 * 1024 * 1024,
  ) {}

  /** The whole message's JSON text once `part` completes it, else undefined. */
  add(part: Part): { from: string; json: string } | undefined {
    if (part.parts === 1) return { from: part.from, json: part.text };
    const key = `${part.from}\n${part.id}`;
    let p = this.pending.get(key);
    if (!p) {
      const timer = setTimeout(() => this.drop(key), this.timeoutMs);
      // A message waiting for its parts does not keep the process alive.
      timer.unref();
      p = { from: part.from, parts: part.parts, slices: new Map(), chars: 0, timer };
      this.pending.set(key, p);
    }
    // A part seen before, or one that disagrees on the count, changes nothing.
    if (p.parts !== part.parts || p.slices.has(part.part)) return undefined;
    p.slices.set(part.part, part.text);
    p.chars += part.text.length;
    this.chars += part.text.length;
    if (p.slices.size === p.parts) {
      this.drop(key);
      let json = "";
      for (let i = 0; i < p.parts; i++) json += p.slices.get(i) as string;
      return { from: p.from, json };
    }
    // Over budget: drop the oldest (Map order is arrival order) until it fits, this one included if need be.
    for (const [k] of this.pending) {
      if (this.chars <= this.maxChars) break;
      this.drop(k);
    }
    return undefined;
  }

  /** Messages waiting for parts (for tests and a curious caller). */
  get size(): number {
    return this.pending.size;
  }

  /** Drops every pending message (the connection their parts came on is gone). */
  clear(): void {
    for (const k of [...this.pending.keys()]) this.drop(k);
  }

  private drop(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    clearTimeout(p.timer);
    this.chars -= p.chars;
    this.pending.delete(key);
  }
}
