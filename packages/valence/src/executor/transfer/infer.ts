/**
 * Which built-in strategy an address implies when a FileTransfer names none:
 * `http://` and `https://` URLs go over HTTP, `user@host:path` over rsync.
 * `s3://` is not inferred: the S3 strategy brings the AWS SDK into the code
 * bundle, so only electrons that ask for it (`new S3Transfer(…)` from
 * `valence/transfer`) pay for it.
 */
import { HttpTransfer } from "./http-transfer.js";
import { isRsyncAddress, RsyncTransfer } from "./rsync-transfer.js";
import type { TransferStrategy } from "./strategy.js";

/** Whether `address` names something off this disk: a URL with a scheme other than file://, or `user@host:path`. */
export function isRemoteAddress(address: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(address)) return !/^file:\/\//i.test(address);
  return isRsyncAddress(address) && address.includes("@");
}

/** The built-in strategy for `address`; undefined when it implies none (a path, or a scheme that needs an explicit strategy). */
export function inferStrategy(address: string): TransferStrategy | undefined {
  if (/^https?:\/\//i.test(address)) return new HttpTransfer();
  if (isRemoteAddress(address) && isRsyncAddress(address)) return new RsyncTransfer();
  return undefined;
}
