// The persistent runners (`valence-task-… --serve`) on the test host (this machine) whose
// working directory is `workdir`: one pool's runners, told apart from other tests' by it.
import { shellQuote } from "valence/executor";
import type { SshConnection } from "../ssh-connection.js";

export async function runnersIn(conn: SshConnection, workdir: string): Promise<number[]> {
  const script = `for p in $(pgrep -f -- 'valence-task-.*--serve'); do [ "$(readlink /proc/$p/cwd 2>/dev/null)" = ${shellQuote(workdir)} ] && echo $p; done; true`;
  const r = await conn.exec(`sh -c ${shellQuote(script)}`);
  return r.stdout.split("\n").filter(Boolean).map(Number).sort((a, b) => a - b);
}
