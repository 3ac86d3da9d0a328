// The executor contract every executor passes, against a real OpenSSH server on loopback.
// 20 tasks at once is more than OpenSSH's default MaxSessions (10): they must queue for channels, not fail.
import { after, before } from "node:test";
import { executorContract } from "valence/executor/testing";
import { SSHExecutor } from "./index.js";
import { startTestHost, type TestHost } from "./test-support/sshd.js";

let host: TestHost;
before(async () => {
  host = await startTestHost();
});
after(async () => {
  await host?.stop();
});

executorContract("ssh", () => new SSHExecutor(host.options()), { concurrentTasks: 20, liveOutput: true });

// A node process per task: its output is followed in the task's output.jsonl over SFTP.
executorContract("ssh, isolation process", () => new SSHExecutor({ ...host.options(), isolation: "process" }), { concurrentTasks: 20, liveOutput: true });
