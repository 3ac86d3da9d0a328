/**
 * A TCP proxy in front of a test Postgres, for the failures a network gives: every open
 * connection reset at once, the server gone (connections refused) and back on the same port,
 * and a connection cut at a chosen moment: once the server has answered a message (the answer
 * never reaches the client: a COMMIT that landed but was never confirmed), before a message
 * reaches the server, or once so many bytes have gone to the server (in the middle of a large write).
 */
import { createServer, connect as connectTcp, type Server, type Socket } from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Resets every open connection, both ends. */
  cut(): void;
  /** Refuses new connections (the port is closed) and resets the open ones: the database is down. */
  down(): Promise<void>;
  /** Accepts connections again, on the same port. */
  up(): Promise<void>;
  /**
   * Arms a cut of the next connection that sends `marker` to the server: the message is passed
   * on, and when the server answers, the connection is reset instead of the answer passed back.
   * Resolves once it has cut.
   */
  cutAfterAnswer(marker: string): Promise<void>;
  /** Arms a cut of the next connection that sends `marker`: reset before the message reaches the server. */
  cutBefore(marker: string): Promise<void>;
  /** Arms a cut of the first connection that sends more than `bytes` to the server from now on, before the rest is passed on. */
  cutAfterBytes(bytes: number): Promise<void>;
  /** How many connections it has accepted. */
  readonly accepted: number;
  close(): Promise<void>;
}

interface Pair {
  readonly inbound: Socket;
  readonly outbound: Socket;
  /** The last bytes from the client, so a marker split over two chunks is still seen. */
  tail: Buffer;
  sent: number;
  /** Set when the server's next answer is to be dropped and the connection reset. */
  onAnswer?: () => void;
}

type Trap =
  | { readonly kind: "after-answer" | "before"; readonly marker: Buffer; readonly done: () => void }
  | { readonly kind: "bytes"; readonly bytes: number; readonly done: () => void };

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let trap: Trap | undefined;
  let accepted = 0;

  const reset = (p: Pair) => {
    pairs.delete(p);
    p.inbound.resetAndDestroy();
    p.outbound.destroy();
  };

  /** Passes `chunk` from `from` to `to`, pausing `from` while `to` is full. */
  const forward = (from: Socket, to: Socket, chunk: Buffer) => {
    if (to.destroyed) return;
    if (!to.write(chunk)) {
      from.pause();
      to.once("drain", () => from.resume());
    }
  };

  const proxy: Server = createServer((inbound) => {
    accepted++;
    const outbound = connectTcp(targetPort, targetHost);
    const p: Pair = { inbound, outbound, tail: Buffer.alloc(0), sent: 0 };
    pairs.add(p);
    for (const s of [inbound, outbound]) {
      s.on("error", () => undefined);
      s.on("close", () => {
        if (pairs.delete(p)) {
          inbound.destroy();
          outbound.destroy();
        }
      });
    }
    inbound.on("data", (chunk: Buffer) => {
      const t = trap;
      if (t?.kind === "bytes") {
        p.sent += chunk.length;
        if (p.sent > t.bytes) {
          trap = undefined;
          reset(p);
          t.done();
          return;
        }
      } else if (t) {
        const seen = Buffer.concat([p.tail, chunk]);
        if (seen.includes(t.marker)) {
          trap = undefined;
          if (t.kind === "before") {
            reset(p);
            t.done();
            return;
          }
          p.onAnswer = t.done;
        }
        p.tail = seen.subarray(Math.max(0, seen.length - t.marker.length));
      }
      forward(inbound, outbound, chunk);
    });
    outbound.on("data", (chunk: Buffer) => {
      if (p.onAnswer) {
        const done = p.onAnswer;
        p.onAnswer = undefined;
        reset(p);
        done();
        return;
      }
      forward(outbound, inbound, chunk);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const port = (proxy.address() as { port: number }).port;

  const arm = (make: (done: () => void) => Trap) =>
    new Promise<void>((resolve) => {
      trap = make(resolve);
    });

  const cut = () => {
    for (const p of [...pairs]) reset(p);
  };

  return {
    port,
    get accepted() {
      return accepted;
    },
    cut,
    async down() {
      const closed = new Promise((resolve) => proxy.close(resolve));
      cut();
      await closed;
    },
    async up() {
      await new Promise<void>((resolve, reject) => {
        proxy.once("error", reject);
        proxy.listen(port, "127.0.0.1", () => {
          proxy.off("error", reject);
          resolve();
        });
      });
    },
    cutAfterAnswer: (marker) => arm((done) => ({ kind: "after-answer", marker: Buffer.from(marker), done })),
    cutBefore: (marker) => arm((done) => ({ kind: "before", marker: Buffer.from(marker), done })),
    cutAfterBytes: (bytes) => {
      for (const p of pairs) p.sent = 0;
      return arm((done) => ({ kind: "bytes", bytes, done }));
    },
    async close() {
      trap = undefined;
      cut();
      if (proxy.listening) await new Promise((resolve) => proxy.close(resolve));
    },
  };
}
