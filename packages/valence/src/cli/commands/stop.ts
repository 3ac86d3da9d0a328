import { setTimeout as sleep } from "node:timers/promises";
import { readServerInfo, serverLockHeld } from "../../client/server-file.js";
import { loadConfig } from "../../engine/config/index.js";
import { ServerStateError } from "../../errors.js";
import { parseOrUsage, type Command } from "../command.js";

const usage = `valence stop

Stops the server running on this data dir. Running tasks are stopped and
their dispatches stay unfinished in the store: they resume at the next
\`valence start\` (tasks that were running run again).`;

const GRACE_MS = 15_000;

export const stopCommand: Command = {
  name: "stop",
  summary: "stop the server (dispatches resume at the next start)",
  usage,
  async run(argv) {
    parseOrUsage({ args: argv, options: {} }, usage);
    const dataDir = loadConfig().dataDir.value;
    const info = readServerInfo(dataDir);
    if (!info) throw new ServerStateError(`no server runs on data dir ${dataDir}`);
    process.kill(info.pid, "SIGTERM");
    const deadline = Date.now() + GRACE_MS;
    // The lock, not the pid: it is let go when the server has exited (a zombie still has a pid).
    while (serverLockHeld(dataDir) && Date.now() < deadline) await sleep(50);
    if (serverLockHeld(dataDir)) {
      process.kill(info.pid, "SIGKILL");
      console.log(`server pid ${info.pid} did not stop within ${GRACE_MS / 1000}s and was killed; its dispatches resume at the next start`);
      return 0;
    }
    console.log(`Valence server stopped (pid ${info.pid})`);
    return 0;
  },
};
