/**
 * How a FileTransfer moves a file between somewhere else (a URL, an object
 * store, another host) and the disk of the place where its task runs.
 *
 * A strategy is an ordinary object made in the user's module, like an
 * electron: it travels to local workers and remote hosts inside the
 * dispatch's code bundle, which rebuilds it there when the bundle loads. So a
 * strategy you write needs no registration, and it runs where the task runs.
 *
 * ```ts
 * import type { TransferStrategy } from "valence";
 * class Scp implements TransferStrategy {
 *   readonly name = "scp";
 *   async download(from: string, toPath: string) { await run("scp", [from, toPath]); }
 *   async upload(fromPath: string, to: string) { await run("scp", [fromPath, to]); }
 * }
 * FileTransfer("host:/data/in.csv", "in.csv", { strategy: new Scp() });
 * ```
 *
 * Both directions take a local *path*, not a buffer, so a strategy streams
 * (or hands the path to a program such as rsync): memory must not grow with
 * the file's size. Throw `TransferSourceMissingError` when the source is not
 * there and `TransferError` for other failures; anything else thrown is
 * wrapped in a `TransferError`. Messages are masked with `mask` (and the
 * URL-password rule) before they leave the task.
 */
export interface TransferStrategy {
  /** Names the strategy in errors ("http", "s3", "rsync", …). */
  readonly name: string;
  /** Copies the remote `from` to the local file `toPath` (whose directory exists). */
  download(from: string, toPath: string, ctx: TransferContext): Promise<void>;
  /** Copies the local file `fromPath` to the remote `to`. */
  upload(fromPath: string, to: string, ctx: TransferContext): Promise<void>;
  /** Throws (any Error) when `address` is not one this strategy can reach; called when the electron is defined. */
  validate?(address: string): void;
  /** The secrets this strategy holds (a secret key, a token), which are masked out of every message. */
  secrets?(): readonly string[];
}

/** What a transfer is told about its surroundings. */
export interface TransferContext {
  /** Whether this transfer runs before the task (files in) or after it (files out). */
  readonly order: "before" | "after";
}

/** Whether `x` has the shape of a TransferStrategy. */
export function isTransferStrategy(x: unknown): x is TransferStrategy {
  if (typeof x !== "object" || x === null) return false;
  const s = x as Partial<TransferStrategy>;
  return typeof s.name === "string" && s.name !== "" && typeof s.download === "function" && typeof s.upload === "function";
}
