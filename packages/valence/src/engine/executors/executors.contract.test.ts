/** The built-in executors against the shared executor contract. */
import { after } from "node:test";
import { executorContract } from "../../executor/test-support/contract.js";
import { InlineExecutor } from "./inline.js";
import { LocalExecutor, closeLocalPools } from "./local/local-executor.js";

executorContract("inline", () => new InlineExecutor(), { liveOutput: true });
executorContract("local", () => new LocalExecutor({ workers: 2 }), { liveOutput: true });

after(() => closeLocalPools());
