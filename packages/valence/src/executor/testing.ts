/**
 * `valence/executor/testing`: the contract every executor passes, for plugin
 * packages to run against their own executor in their own tests.
 *
 * @example
 * import { executorContract } from "valence/executor/testing";
 * executorContract("ssh", () => new SSHExecutor({ hostname: "127.0.0.1", ... }), { concurrentTasks: 20 });
 */
export { executorContract, outcomeValue } from "./test-support/contract.js";
export type { ContractOptions } from "./test-support/contract.js";
export { transferContract } from "./test-support/transfer-contract.js";
export type { TransferContractOptions, TransferFixture } from "./test-support/transfer-contract.js";
