/**
 * Workflows whose electrons run on an `SSHExecutor` instance, as a user
 * writes them. The connection comes from environment variables that the
 * test sets before importing this module. This module is also bundled and
 * loaded on the host for each task, where those variables are unset: the
 * executor is built there too, but never used.
 */
import { electron, lattice } from "valence";
import { SSHExecutor } from "../index.js";

const env = process.env;
export const ssh = new SSHExecutor({
  hostname: env["VALENCE_TEST_SSH_HOST"] ?? "",
  port: Number(env["VALENCE_TEST_SSH_PORT"] ?? 22),
  username: env["VALENCE_TEST_SSH_USER"] ?? "",
  sshKeyFile: env["VALENCE_TEST_SSH_KEY"] ?? "",
  knownHostsFile: env["VALENCE_TEST_SSH_KNOWN_HOSTS"] ?? "",
  remoteWorkdir: env["VALENCE_TEST_SSH_WORKDIR"] ?? ".cache/valence",
});

// The TimingExecutor example of the design doc, on a remote host.
export const add = electron((x: number, y: number) => x + y, { executor: ssh });
export const multiply = electron((x: number, y: number) => x * y, { executor: ssh });
export const workflow = lattice((x: number, y: number) => {
  const r1 = add(x, y);
  return multiply(y, r1);
});

// Fan out, fan in.
export const square = electron((x: number) => x * x, { executor: ssh });
export const total = electron((xs: number[]) => xs.reduce((a, b) => a + b, 0), { executor: ssh });
export const sumOfSquares = lattice((n: number) => total(Array.from({ length: n }, (_, i) => square(i))));

export const explode = electron((why: string): number => {
  throw new Error(`exploded on the host: ${why}`);
}, { executor: ssh });
export const failing = lattice((why: string) => ({ bad: add(explode(why), 1), good: square(3) }));

export const nap = electron(async (ms: number) => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
}, { executor: ssh });
export const napping = lattice((ms: number) => nap(ms));

/** Where each task ran: the host's pid and cwd, to check it was not this process. */
export const whereAmI = electron(() => ({ pid: process.pid, cwd: process.cwd() }), { executor: ssh });
export const locate = lattice(() => whereAmI());
