// Dispatch-to-first-task latency, one scenario per process: a lattice of ONE trivial task whose body
// returns the moment it starts; latency = that moment − the moment `dispatch` was called here.
// Embedded unless VALENCE_SERVER is set (bench/run.ts starts a server and sets it).
//   node .build/latency-scenario.mjs inline 10
// Prints one JSON line: { scenario, cold, warm, all, ackMs, doneMs } (milliseconds). Uses the public API only.
//
// The task may run in another process (the server's runner, a local worker), so both ends stamp with the
// same clock: `performance.now()` pinned to the system clock (Date.now()) at tick edges in each process,
// which is good to a few tens of µs (Node's own `performance.timeOrigin` can be off by ~1 ms).
import { dispatch, electron, getResult, lattice, type Lattice } from "valence";

let offset: number | undefined;
/** Milliseconds since the epoch, sub-millisecond, comparable across processes on this machine. */
function epochOffset(): number {
  if (offset === undefined) {
    // At the edge of a Date.now() tick, wall time ≈ the new value. Being descheduled between the reads
    // only makes a candidate too small, so the largest of a few is kept (≤ 5 ms of spinning, once).
    let best = -Infinity;
    for (let k = 0; k < 5; k++) {
      const start = Date.now();
      let now = start;
      while (now === start) now = Date.now();
      best = Math.max(best, now - performance.now());
    }
    offset = best;
  }
  return offset;
}

// The stamp is taken first; pinning the clock (a few ms, once per process) comes after it.
const stamp = () => {
  const at = performance.now();
  return at + epochOffset();
};
export const stampInline = electron((_i: number) => stamp(), { executor: "inline", name: "stamp" });
export const stampLocal = electron((_i: number) => stamp(), { executor: "local", name: "stamp" });

export const oneInline = lattice((i: number) => stampInline(i), { name: "first_task_inline" });
export const oneLocal = lattice((i: number) => stampLocal(i), { name: "first_task_local" });

const SCENARIOS = { inline: oneInline, local: oneLocal } as const;

interface Sample {
  /** dispatch called → task body started */
  latencyMs: number;
  /** dispatch called → `dispatch` resolved (stored; through a server: stored and its runner started) */
  ackMs: number;
  /** dispatch called → result in hand */
  doneMs: number;
}

async function once(workflow: Lattice<[number], unknown>, i: number): Promise<Sample> {
  const base = epochOffset();
  const t0 = performance.now();
  const id = await dispatch(workflow)(i);
  const tAck = performance.now();
  const result = await getResult(id, { wait: true });
  const tDone = performance.now();
  if (result.status !== "COMPLETED" || typeof result.result !== "number") {
    throw new Error(`wrong result (status ${result.status}${result.error ? `: ${result.error.message}` : ""})`);
  }
  return { latencyMs: result.result - (t0 + base), ackMs: tAck - t0, doneMs: tDone - t0 };
}

const which = process.argv[2] as keyof typeof SCENARIOS | undefined;
if (which) {
  if (!(which in SCENARIOS)) {
    console.error(`unknown scenario ${which}; known: ${Object.keys(SCENARIOS).join(", ")}`);
    process.exitCode = 2;
  } else {
    epochOffset(); // pin this process's clock before anything is timed
    const runs = Number(process.argv[3] ?? 1);
    const samples: Sample[] = [];
    for (let i = 0; i < runs; i++) samples.push(await once(SCENARIOS[which] as Lattice<[number], unknown>, i));
    // As in valence-scenario.ts: the first dispatch is "cold"; with enough runs the first three are left out of "warm".
    const rest = samples.slice(runs >= 6 ? 3 : 1);
    const med = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : null);
    const first = samples[0] as Sample;
    console.log(
      JSON.stringify({
        scenario: `first_task_${which}`,
        cold: first.latencyMs,
        warm: med(rest.map((s) => s.latencyMs)),
        coldAckMs: first.ackMs,
        warmAckMs: med(rest.map((s) => s.ackMs)),
        coldDoneMs: first.doneMs,
        warmDoneMs: med(rest.map((s) => s.doneMs)),
        all: samples.map((s) => Math.round(s.latencyMs * 100) / 100),
      }),
    );
  }
}
