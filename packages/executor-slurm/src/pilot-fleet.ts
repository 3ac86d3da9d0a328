/**
 * The dispatcher's side of Slurm pilot jobs (`isolation: "pilot"`): one
 * queue directory on the shared file system per executor instance, served
 * by pilot jobs (`valence-task --pilot`, see valence's task-runner/pilot.ts)
 * that claim tasks from it as they have room.
 *
 * - submit writes `inbox/<id>.json` (temp file + rename) and sbatches
 *   pilots while the queued tasks outnumber the free room of the pilots
 *   running or waiting in Slurm's queue (up to `maxPilots`).
 * - One poll loop per queue, however many tasks: each round one shell
 *   command lists the outbox and each pilot's claims and alive age; at most
 *   once a second squeue (shared with all polls through the JobWatcher)
 *   says where the pilot jobs are. Answers are read as they appear.
 * - A pilot job that ended (or stopped refreshing `alive`) fails the tasks
 *   it had claimed with its job id and state; tasks it had not claimed stay
 *   queued for other or new pilots. A pilot that ended before it ever
 *   started (prerun failed, cancelled while pending, can never start) fails
 *   every queued task with its reason instead: the next one would do the same.
 * - Pilots waiting in Slurm's queue that the queued tasks no longer need are
 *   told to stop (they exit as soon as they start); teardown stops them all.
 */
import { createHash, randomBytes } from "node:crypto";
import { shellQuote, type RemoteResult, type RemoteStatus, type TaskPackage } from "valence/executor";
import type { ClusterShell } from "./cluster-shell.js";
import { SlurmCommandError, SlurmSubmitError } from "./errors.js";
import { parseSbatchOutput, sbatchCommand, scancelCommand } from "./job-queries.js";
import type { JobWatcher } from "./job-watcher.js";
import type { SlurmExecutorOptions } from "./options.js";
import { pilotScript } from "./sbatch-script.js";
import { isTerminal, remoteStatus, UNRUNNABLE_REASONS, type JobInfo } from "./slurm-states.js";

export const DEFAULT_PILOT_IDLE_S = 60;
/** A running pilot whose `alive` file is older than this is taken for dead (NFS may show mtimes late: keep it generous). */
export const PILOT_STALE_S = 90;
/** squeue about the pilot jobs at most this often. */
const SQUEUE_EVERY_MS = 1000;
/** Fastest round of the poll loop (one listing command): a chain of short tasks is seen this fast. */
const FIRST_ROUND_MS = 20;
/** How long a cancel waits for the pilot's answer (its runner killed) before moving on. */
const CANCEL_WAIT_MS = 10_000;
const STDERR_TAIL_BYTES = 4000;
/** How long polls of Slurm may fail in a row before the tasks fail with the error. */
const POLL_ERROR_GRACE_MS = 120_000;

type Answer =
  | { readonly kind: "result"; readonly resultJson: string }
  | { readonly kind: "failed"; readonly reason: string; readonly stderrTail?: string; readonly exitCode?: number | null }
  /** The task could not be queued or served at all (sbatch refused the pilot): thrown by pollTask as is. */
  | { readonly kind: "error"; readonly error: Error };

/** A task in the queue, as the executor's lifecycle steps pass it along. */
export class PilotTask {
  readonly kind = "pilot";
  /** The pilot job that claimed it (its name in `pilots/`). */
  claimedBy: string | undefined;
  answer: Answer | undefined;
  private wake!: () => void;
  /** Resolves at the next change (claimed, answered); replaced after each. */
  changed: Promise<void>;

  constructor(
    readonly id: string,
    readonly pkg: TaskPackage,
  ) {
    this.changed = new Promise((resolve) => (this.wake = resolve));
  }

  notify(): void {
    const wake = this.wake;
    this.changed = new Promise((resolve) => (this.wake = resolve));
    wake();
  }

  settle(answer: Answer): void {
    if (this.answer) return;
    this.answer = answer;
    this.notify();
  }
}

interface Pilot {
  readonly id: string;
  readonly cluster?: string;
  last?: JobInfo;
  /** Slurm is done with it. */
  ended: boolean;
  /** Its `alive` file was seen: the pilot process started. */
  started: boolean;
  /** Told to stop: takes no more tasks. */
  stopping: boolean;
}

export interface FleetDeps {
  readonly shell: () => Promise<ClusterShell>;
  readonly workdir: () => Promise<string>;
  readonly watcher: () => JobWatcher;
  readonly options: SlurmExecutorOptions;
}

/** The sbatch settings a pilot is made with: pilots are shared only by tasks that would get the same job. */
export function pilotKey(options: SlurmExecutorOptions): string {
  const { partition, time, cpusPerTask, memory, account, sbatchOptions, prerunCommands, postrunCommands, nodePath, env, pilotIdle, tasksPerPilot } = options;
  const key = JSON.stringify({ partition, time, cpusPerTask, memory, account, sbatchOptions, prerunCommands, postrunCommands, nodePath, env, pilotIdle, tasksPerPilot });
  return createHash("sha256").update(key).digest("hex").slice(0, 12);
}

export class PilotFleet {
  private readonly pilots = new Map<string, Pilot>();
  private readonly tasks = new Map<string, PilotTask>();
  /** sbatches in flight. */
  private submitting = 0;
  private dir: Promise<string> | undefined;
  private runner: string | undefined;
  private looping = false;
  private changedAt = Date.now();
  private lastSqueue = 0;
  private failingSince: number | undefined;
  private counter = 0;
  private closed = false;
  /** Every pilot job this fleet submitted, in order (tests count them). */
  readonly jobIds: string[] = [];

  constructor(private readonly deps: FleetDeps) {}

  private get slots(): number {
    return this.deps.options.tasksPerPilot ?? 1;
  }

  /** The queue directory, made on first use: `WORKDIR/pilots/<settings>-<nonce>`. */
  queueDir(): Promise<string> {
    this.dir ??= (async () => {
      const [shell, workdir] = await Promise.all([this.deps.shell(), this.deps.workdir()]);
      const dir = `${workdir}/pilots/${pilotKey(this.deps.options)}-${randomBytes(4).toString("hex")}`;
      const command = `mkdir -p ${["inbox", "outbox", "cancel", "tmp", "pilots", "logs"].map((d) => shellQuote(`${dir}/${d}`)).join(" ")}`;
      const r = await shell.run(command);
      if (r.code !== 0) throw new SlurmCommandError(`cannot make the pilots' queue ${dir} on ${shell.where}: ${r.stderr.trim()}`, command, r.stderr);
      return dir;
    })();
    this.dir.catch(() => (this.dir = undefined));
    return this.dir;
  }

  /** Queues the task (its package is uploaded) and makes sure a pilot will take it. */
  async submit(pkg: TaskPackage): Promise<PilotTask> {
    this.closed = false;
    const [shell, dir] = await Promise.all([this.deps.shell(), this.queueDir()]);
    this.runner = pkg.runner.relPath;
    const id = `${Date.now().toString(36)}-${(this.counter++).toString(36).padStart(4, "0")}-${randomBytes(3).toString("hex")}`;
    const entry = JSON.stringify({ id, bundle: pkg.bundle.relPath, taskFile: `${pkg.taskDir}/task.json` });
    const command = `cd ${shellQuote(dir)} && printf '%s' ${shellQuote(entry)} > tmp/${id}.in && mv tmp/${id}.in inbox/${id}.json`;
    const r = await shell.run(command);
    if (r.code !== 0) throw new SlurmCommandError(`cannot queue task "${pkg.electronName}" in ${dir} on ${shell.where}: ${r.stderr.trim()}`, command, r.stderr);
    const task = new PilotTask(id, pkg);
    this.tasks.set(id, task);
    this.changedAt = Date.now();
    try {
      await this.ensurePilots();
    } catch (error) {
      // sbatch refused the pilot: this task fails with sbatch's words, and leaves the queue.
      this.tasks.delete(id);
      await shell.run(`rm -f ${shellQuote(`${dir}/inbox/${id}.json`)}`).catch(() => {});
      throw error;
    }
    this.kick();
    return task;
  }

  status(task: PilotTask): RemoteStatus {
    const answer = task.answer;
    if (!answer) return { state: task.claimedBy ? "running" : "pending" };
    if (answer.kind === "error") throw answer.error;
    return answer.kind === "result" ? { state: "done" } : { state: "failed", reason: answer.reason };
  }

  result(task: PilotTask): RemoteResult {
    const answer = task.answer;
    if (answer?.kind === "result") return { resultJson: answer.resultJson };
    if (answer?.kind === "failed") return { resultJson: undefined, ...(answer.stderrTail ? { stderrTail: answer.stderrTail } : {}), exitCode: answer.exitCode ?? null };
    return { resultJson: undefined };
  }

  /** Takes the task out of the queue, or has its pilot kill its runner and waits (a while) for the answer saying so. */
  async cancel(task: PilotTask): Promise<void> {
    if (task.answer) return;
    const [shell, dir] = await Promise.all([this.deps.shell(), this.queueDir()]);
    const id = task.id;
    const r = await shell.run(`cd ${shellQuote(dir)} && if mv inbox/${id}.json tmp/${id}.unqueued 2>/dev/null; then echo unqueued; else : > cancel/${id}; fi`);
    if (r.stdout.trim() === "unqueued") {
      task.settle({ kind: "failed", reason: "cancelled before a pilot took it" });
      return;
    }
    await Promise.race([until(task), sleep(CANCEL_WAIT_MS)]);
  }

  /** Forgets the task and removes its files (its package, its answer). */
  async cleanup(task: PilotTask): Promise<void> {
    this.tasks.delete(task.id);
    const [shell, workdir, dir] = await Promise.all([this.deps.shell(), this.deps.workdir(), this.queueDir()]);
    if (!task.answer) await shell.run(`: > ${shellQuote(`${dir}/cancel/${task.id}`)}; rm -f ${shellQuote(`${dir}/inbox/${task.id}.json`)}`).catch(() => {});
    await Promise.all([
      shell.removeDir(`${workdir}/${task.pkg.taskDir}`),
      shell.removeDir(`${dir}/outbox/${task.id}.json`),
      shell.removeDir(`${dir}/tmp/${task.id}.unqueued`),
    ]);
  }

  /** Asks every pilot to finish what it has and exit (`QUEUE/stop`): the allocations are released now rather than after `pilotIdle`. */
  async close(): Promise<void> {
    this.closed = true;
    if (!this.dir) return;
    const dir = await this.dir.catch(() => undefined);
    if (!dir) return;
    const shell = await this.deps.shell();
    await shell.run(`: > ${shellQuote(`${dir}/stop`)}`).catch(() => {});
    for (const pilot of this.pilots.values()) pilot.stopping = true;
  }

  /** Pilots submitted and not ended (tests and diagnostics). */
  get livePilots(): number {
    return [...this.pilots.values()].filter((p) => !p.ended).length;
  }

  /** Sbatches pilots while the queued tasks outnumber the room of the pilots there are. */
  private async ensurePilots(): Promise<void> {
    if (this.closed) return;
    const unclaimed = [...this.tasks.values()].filter((t) => !t.answer && !t.claimedBy).length;
    let room = this.submitting * this.slots;
    for (const pilot of this.pilots.values()) {
      if (pilot.ended || pilot.stopping) continue;
      const busy = [...this.tasks.values()].filter((t) => !t.answer && t.claimedBy === pilot.id).length;
      room += Math.max(0, this.slots - busy);
    }
    const max = this.deps.options.maxPilots ?? Infinity;
    const have = this.livePilots + this.submitting;
    const wanted = Math.min(Math.ceil(Math.max(0, unclaimed - room) / this.slots), max - have);
    if (wanted <= 0) return;
    await Promise.all(Array.from({ length: wanted }, () => this.sbatchPilot()));
  }

  private async sbatchPilot(): Promise<void> {
    this.submitting++;
    try {
      const [shell, workdir, dir] = await Promise.all([this.deps.shell(), this.deps.workdir(), this.queueDir()]);
      const options = this.deps.options;
      const script = pilotScript({
        options,
        workdir,
        poolDir: dir,
        runner: this.runner as string,
        idleSeconds: options.pilotIdle ?? DEFAULT_PILOT_IDLE_S,
        slots: this.slots,
      });
      const scriptPath = `${dir}/tmp/pilot-${randomBytes(4).toString("hex")}.sbatch`;
      const r = await shell.run(`printf '%s' ${shellQuote(script)} > ${shellQuote(scriptPath)} && ${sbatchCommand(scriptPath)}`);
      if (r.code !== 0) {
        const said = r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`;
        throw new SlurmSubmitError(`sbatch refused the pilot job on ${shell.where}:\n${said}`, r.stderr, r.code);
      }
      const ref = parseSbatchOutput(r.stdout);
      if (!ref) throw new SlurmSubmitError(`sbatch printed no job id for the pilot job on ${shell.where}: ${JSON.stringify(r.stdout)} ${r.stderr}`, r.stderr, r.code);
      this.pilots.set(ref.id, { ...ref, ended: false, started: false, stopping: false });
      this.jobIds.push(ref.id);
      this.lastSqueue = 0;
    } finally {
      this.submitting--;
    }
  }

  /** Starts the poll loop unless it runs. */
  private kick(): void {
    if (this.looping) return;
    this.looping = true;
    void this.loop().finally(() => {
      this.looping = false;
      if (this.tasks.size > 0) this.kick();
    });
  }

  private async loop(): Promise<void> {
    while (this.tasks.size > 0) {
      const age = Date.now() - this.changedAt;
      await sleep(Math.min(Math.max(age / 4, FIRST_ROUND_MS), (this.deps.options.pollFreq ?? 1) * 1000));
      try {
        await this.round();
        this.failingSince = undefined;
      } catch (error) {
        this.failingSince ??= Date.now();
        if (Date.now() - this.failingSince > POLL_ERROR_GRACE_MS) {
          for (const task of this.tasks.values()) task.settle({ kind: "error", error: error as Error });
        }
      }
    }
  }

  private async round(): Promise<void> {
    const [shell, dir] = await Promise.all([this.deps.shell(), this.queueDir()]);
    // Slurm first, the files after: a pilot seen ended here has written all it ever will before the listing.
    const pilots = [...this.pilots.values()].filter((p) => !p.ended);
    if (pilots.length > 0 && Date.now() - this.lastSqueue >= SQUEUE_EVERY_MS) {
      this.lastSqueue = Date.now();
      const watcher = this.deps.watcher();
      await Promise.all(
        pilots.map(async (pilot) => {
          const info = await watcher.info(pilot);
          if (!info) pilot.ended = true;
          else {
            pilot.last = info;
            if (isTerminal(info)) pilot.ended = true;
          }
        }),
      );
    }
    const listing = await shell.run(listCommand(dir));
    if (listing.code !== 0) throw new SlurmCommandError(`cannot list the pilots' queue ${dir} on ${shell.where}: ${listing.stderr.trim()}`, listCommand(dir), listing.stderr);
    const { answered, claims, aliveAge } = parseListing(listing.stdout);
    let changed = false;
    for (const [pilotId, ids] of claims) {
      for (const id of ids) {
        const task = this.tasks.get(id);
        if (task && !task.answer && task.claimedBy !== pilotId) {
          task.claimedBy = pilotId;
          task.notify();
          changed = true;
        }
      }
    }
    await Promise.all(
      [...answered].map(async (id) => {
        const task = this.tasks.get(id);
        if (!task || task.answer) return;
        const text = await shell.readFile(`${dir}/outbox/${id}.json`);
        if (text === undefined) return;
        task.claimedBy ??= pilotOfResult(text);
        task.settle(answerOf(text, task.claimedBy));
        changed = true;
      }),
    );
    for (const pilot of this.pilots.values()) {
      if (aliveAge.has(pilot.id)) pilot.started = true;
      const age = aliveAge.get(pilot.id);
      if (!pilot.ended && pilot.last?.state === "RUNNING" && age !== undefined && age > PILOT_STALE_S) {
        await shell.run(scancelCommand(pilot.id, pilot.cluster)).catch(() => {});
        await this.pilotEnded(pilot, shell, dir, `Slurm pilot job ${pilot.id} stopped refreshing its alive file (${age} s ago) while RUNNING; it was cancelled`);
        changed = true;
      } else if (!pilot.ended && pilot.last?.state === "PENDING" && UNRUNNABLE_REASONS[pilot.last.reason]) {
        await shell.run(scancelCommand(pilot.id, pilot.cluster)).catch(() => {});
        await this.pilotEnded(pilot, shell, dir, statusReason(pilot));
        changed = true;
      } else if (pilot.ended) {
        await this.pilotEnded(pilot, shell, dir, statusReason(pilot));
        changed = true;
      }
    }
    if (changed) this.changedAt = Date.now();
    try {
      await this.ensurePilots();
    } catch (error) {
      // No pilot can be had: the queued tasks fail with sbatch's words, unless a pilot is there to take them.
      if (this.livePilots === 0) for (const task of this.tasks.values()) if (!task.answer && !task.claimedBy) task.settle({ kind: "error", error: error as Error });
    }
    await this.stopSurplus(shell, dir);
  }

  /** A pilot job is over: the tasks it claimed and did not answer fail with its state; if it never started, so do the queued ones. */
  private async pilotEnded(pilot: Pilot, shell: ClusterShell, dir: string, reason: string): Promise<void> {
    pilot.ended = true;
    this.pilots.delete(pilot.id);
    const claimed = [...this.tasks.values()].filter((t) => !t.answer && t.claimedBy === pilot.id);
    const queued = pilot.started || pilot.stopping ? [] : [...this.tasks.values()].filter((t) => !t.answer && !t.claimedBy);
    if (claimed.length === 0 && queued.length === 0) return;
    const stderrTail = (await shell.readTail(`${dir}/logs/pilot-${pilot.id}.err`, STDERR_TAIL_BYTES).catch(() => undefined))?.trim();
    const exitCode = pilot.last?.exitCode ?? null;
    for (const task of claimed) task.settle({ kind: "failed", reason: `${reason}, while running the task`, ...(stderrTail ? { stderrTail } : {}), exitCode });
    for (const task of queued) task.settle({ kind: "failed", reason: `${reason}, before it could run the task`, ...(stderrTail ? { stderrTail } : {}), exitCode });
  }

  /** Pilots still waiting in Slurm's queue that the queued tasks no longer need are told to stop: they exit as soon as they start. */
  private async stopSurplus(shell: ClusterShell, dir: string): Promise<void> {
    const unclaimed = [...this.tasks.values()].filter((t) => !t.answer && !t.claimedBy).length;
    const waiting = [...this.pilots.values()].filter((p) => !p.ended && !p.stopping && !p.started);
    const surplus = waiting.length - Math.ceil(unclaimed / this.slots);
    for (const pilot of waiting.reverse().slice(0, Math.max(0, surplus))) {
      pilot.stopping = true;
      const own = `${dir}/pilots/${pilot.id}`;
      await shell.run(`mkdir -p ${shellQuote(own)} && : > ${shellQuote(`${own}/stop`)}`).catch(() => {});
    }
  }
}

/** One command for the whole queue: the outbox, then per pilot its alive age (seconds, on the cluster's clock) and claims. */
function listCommand(dir: string): string {
  return (
    `cd ${shellQuote(dir)} && now=$(date +%s) && ls -1 outbox || exit 3; for d in pilots/*/; do [ -d "$d" ] || continue; p=\${d#pilots/}; p=\${p%/}; ` +
    `m=$(stat -c %Y "$d/alive" 2>/dev/null) && echo "@pilot $p $((now - m))" || echo "@pilot $p -"; ls -1 "$d/claimed" 2>/dev/null; done; exit 0`
  );
}

function parseListing(stdout: string): { answered: Set<string>; claims: Map<string, string[]>; aliveAge: Map<string, number> } {
  const answered = new Set<string>();
  const claims = new Map<string, string[]>();
  const aliveAge = new Map<string, number>();
  let pilot: string | undefined;
  for (const line of stdout.split("\n")) {
    const header = /^@pilot (\S+) (\S+)$/.exec(line);
    if (header) {
      pilot = header[1] as string;
      claims.set(pilot, []);
      if (header[2] !== "-") aliveAge.set(pilot, Number(header[2]));
      continue;
    }
    if (!line.endsWith(".json")) continue;
    const id = line.slice(0, -".json".length);
    if (pilot === undefined) answered.add(id);
    else claims.get(pilot)?.push(id);
  }
  return { answered, claims, aliveAge };
}

/** The pilot's answer: a result file, or `{"runnerEnded":…}` when the task's runner went down under it. */
/** The pilot a result answer names (pilot.ts adds it as the result's last field), if any. */
function pilotOfResult(text: string): string | undefined {
  const m = /,"pilot":("(?:[^"\\]|\\.)*")\}\s*$/.exec(text);
  return m ? (JSON.parse(m[1] as string) as string) : undefined;
}

function answerOf(text: string, pilotId: string | undefined): Answer {
  if (!text.startsWith('{"runnerEnded"')) return { kind: "result", resultJson: text };
  try {
    const { runnerEnded } = JSON.parse(text) as { runnerEnded: { reason: string; exitCode: number | null; stderrTail: string; pilot?: string } };
    return { kind: "failed", reason: `${runnerEnded.reason} in Slurm pilot job ${runnerEnded.pilot ?? pilotId ?? "?"}`, stderrTail: runnerEnded.stderrTail, exitCode: runnerEnded.exitCode };
  } catch (error) {
    return { kind: "failed", reason: `the pilot's answer is not JSON: ${(error as Error).message}` };
  }
}

function statusReason(pilot: Pilot): string {
  const info = pilot.last;
  if (!info) return `Slurm pilot job ${pilot.id} ended (Slurm no longer knows it)`;
  const status = remoteStatus(pilot.id, info);
  if (status.state === "failed") return status.reason.replace(/^Slurm job/, "Slurm pilot job");
  return `Slurm pilot job ${pilot.id} ended (${info.state}${info.reason && info.reason !== "None" ? `, Reason=${info.reason}` : ""})`;
}

function until(task: PilotTask): Promise<void> {
  return (async () => {
    while (!task.answer) await task.changed;
  })();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
