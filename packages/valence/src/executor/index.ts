/** `valence/executor`: what executor plugins build on. Nothing here imports the engine. */
export { Executor, executorFromSpec, isExecutor } from "./executor.js";
export type { ExecutorOptions, ExecutorSpec } from "./executor.js";
export { BaseExecutor, AsyncBaseExecutor } from "./base-executor.js";
export type { Kwargs } from "./base-executor.js";
export type { Task, TaskMetadata, TaskOutcome, TaskFunction } from "./task.js";
export { runCaptured } from "./capture.js";
