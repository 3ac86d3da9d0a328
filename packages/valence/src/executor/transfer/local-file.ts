import { stat } from "node:fs/promises";
import { TransferError, TransferSourceMissingError } from "../../errors.js";

/** The size of a local file to upload; a missing one is a TransferSourceMissingError. */
export async function localSize(path: string, strategy: string): Promise<number> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new TransferError(`${path} is not a file`, strategy, path);
    return s.size;
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") {
      throw new TransferSourceMissingError(`${path} does not exist`, strategy, path);
    }
    throw error;
  }
}
