/**
 * Starts a persistent task runner (`valence-task --serve`) on an SSH host,
 * on a channel of its own: lines go over the channel's stdin and stdout,
 * the runner's own output comes back on its stderr.
 *
 * The command is `cd WORKDIR && exec NODE RUNNER --serve` through the login
 * shell sshd starts as a session (and process group) leader; `exec` keeps its
 * pid, so the pid the runner reports is the group that `kill -9 -PID` ends,
 * with anything its tasks started.
 */
import { RunnerSession, shellQuote, type LaunchedRunner } from "valence/executor";
import { killRemoteGroup } from "./process-task.js";
import { hold, openStream, type OpenChannel, type SshConnection } from "./ssh-connection.js";

export interface RunnerPlace {
  /** The remote working directory (relative to the remote home, or absolute). */
  readonly workdir: string;
  readonly nodePath: string;
  /** The runner file, relative to `workdir`. */
  readonly runner: string;
}

export function launchOverSsh(connection: SshConnection, place: RunnerPlace): LaunchedRunner {
  let channel: OpenChannel | undefined;
  let ending = false;
  const queued: string[] = [];
  const session = new RunnerSession({
    write: (text) => (channel ? channel.write(text) : void queued.push(text)),
    end: () => {
      ending = true;
      channel?.end();
    },
  });
  const command = `cd ${shellQuote(place.workdir)} && exec ${shellQuote(place.nodePath)} ${shellQuote(place.runner)} --serve`;
  connection[openStream](command, { onStdout: (chunk) => session.stdout(chunk), onStderr: (chunk) => session.stderr(chunk) }).then(
    (opened) => {
      channel = opened;
      for (const text of queued.splice(0)) opened.write(text);
      if (ending) opened.end();
      void opened.closed.then((exit) => session.exited(exit));
    },
    (error: unknown) => session.exited({ code: null, error: error instanceof Error ? error : new Error(String(error)) }),
  );
  let release: (() => void) | undefined;
  return {
    session,
    hold: (busy) => {
      if (busy) release ??= connection[hold]();
      else {
        release?.();
        release = undefined;
      }
    },
    kill: async () => {
      const pid = session.pid;
      if (pid === undefined || session.ended) return session.close();
      await killRemoteGroup(connection, pid);
    },
  };
}
