/** `valence/executor`: what executor plugins build on. Nothing here imports the engine. */
export { Executor, executorFromSpec, isExecutor } from "./executor.js";
export type { ExecutorOptions, ExecutorSpec } from "./executor.js";
export { BaseExecutor, AsyncBaseExecutor } from "./base-executor.js";
export type { Kwargs } from "./base-executor.js";
export type { Task, TaskMetadata, TaskOutcome, TaskFunction } from "./task.js";
export { runCaptured } from "./capture.js";
export type { LiveSink, OutputStream } from "./capture.js";
export { RemoteExecutor, outcomeOf } from "./remote/remote-executor.js";
export type { RemoteExecutorOptions, RemoteResult, RemoteStatus } from "./remote/remote-executor.js";
export { makeTaskPackage, runnerFile, shellQuote, taskCommand, taskFiles, writeTaskPackage } from "./remote/task-package.js";
export type { SharedFile, TaskPackage } from "./remote/task-package.js";
export { readFileFrom } from "./remote/output-follower.js";
export type { OutputFileReader } from "./remote/output-follower.js";
export { RunnerSession } from "./remote/runner-session.js";
export { RunnerPool } from "./remote/runner-pool.js";
export type { LaunchedRunner, PooledTask, RunnerPoolOptions } from "./remote/runner-pool.js";
export { runnerJobResult, runnerJobStatus, submitToRunner } from "./remote/runner-job.js";
export type { RunnerJob } from "./remote/runner-job.js";
export type { RunnerExit, RunnerOutcome, RunnerTransport } from "./remote/runner-session.js";
export { EncodedOutcome } from "./encoded-outcome.js";
export { abortError } from "./abort-error.js";
export { onAbort } from "./abort-watch.js";
export { isTransferStrategy } from "./transfer/strategy.js";
export type { TransferContext, TransferStrategy } from "./transfer/strategy.js";
export { maskCredentials } from "./transfer/mask.js";
export { runTransfer } from "./transfer/run-transfer.js";
export type { StrategyTransfer } from "./transfer/run-transfer.js";
export {
  ExecutorDefinitionError,
  RemoteExecutorError,
  RemoteTaskError,
  TaskCancelledError,
  TaskSetupError,
  TaskTimeoutError,
  TransferError,
  TransferSourceMissingError,
  ValenceError,
} from "../errors.js";
