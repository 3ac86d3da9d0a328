// A script that connects and ends without tearing the executor down: it must still exit.
import { DaskExecutor } from "../index.js";
import { liveBridges } from "../bridge-pool.js";

const executor = new DaskExecutor({ schedulerAddress: process.argv[2] as string });
await executor.validateCredentials();
console.log(JSON.stringify({ bridgePid: liveBridges()[0]?.pid }));
