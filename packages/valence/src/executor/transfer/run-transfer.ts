/**
 * Runs one FileTransfer's strategy where the task runs, and turns whatever
 * it throws into a TransferError that names the strategy, the direction and
 * the remote address, with credentials masked.
 */
import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { TransferError, TransferSourceMissingError } from "../../errors.js";
import { maskCredentials } from "./mask.js";
import type { TransferStrategy } from "./strategy.js";

const MISSING_CODE = new TransferSourceMissingError("", "", "").code;

export interface StrategyTransfer {
  readonly from: string;
  readonly to: string;
  readonly order: "before" | "after";
  readonly strategy: TransferStrategy;
}

/** Before the task `from` is remote and is downloaded to `to`; after it, the local `from` is uploaded to `to`. */
export async function runTransfer(file: StrategyTransfer): Promise<void> {
  const { strategy, order } = file;
  const remote = order === "before" ? file.from : file.to;
  const secrets = strategy.secrets?.() ?? [];
  const mask = (text: string) => maskCredentials(text, secrets);
  try {
    if (order === "before") {
      const local = resolve(file.to);
      await mkdir(dirname(local), { recursive: true });
      await strategy.download(file.from, local, { order });
    } else {
      await strategy.upload(resolve(file.from), file.to, { order });
    }
  } catch (error) {
    const what = order === "before" ? `download ${mask(file.from)} → ${file.to}` : `upload ${file.from} → ${mask(file.to)}`;
    const reason = mask(describe(error));
    // The strategy's own message goes in masked; the original error does not travel (it may hold the secret).
    // By code, not instanceof: the strategy may come from the bundle's copy of the SDK and this from the engine's.
    const missing = (error as { code?: unknown } | null)?.code === MISSING_CODE;
    const Kind = missing ? TransferSourceMissingError : TransferError;
    throw new Kind(`FileTransfer (${strategy.name}) ${what} (${order} the task): ${reason}`, strategy.name, mask(remote));
  }
}

/** An error's message and, for network failures, the code underneath ("fetch failed" alone says nothing). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const below = cause && typeof cause.message === "string" && cause.message !== error.message ? `: ${cause.message}` : "";
  return `${error.message}${below}`;
}
