/**
 * `valence/transfer`: the built-in FileTransfer strategies. A module of its
 * own so that the AWS SDK reaches a task bundle only when S3Transfer is used.
 */
export { HttpTransfer } from "./http-transfer.js";
export type { HttpTransferOptions } from "./http-transfer.js";
export { RsyncTransfer } from "./rsync-transfer.js";
export type { RsyncTransferOptions } from "./rsync-transfer.js";
export { S3Transfer } from "./s3-transfer.js";
export type { S3TransferOptions } from "./s3-transfer.js";
export { maskCredentials } from "./mask.js";
export type { TransferContext, TransferStrategy } from "./strategy.js";
export { TransferError, TransferSourceMissingError } from "../../errors.js";
