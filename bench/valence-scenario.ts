// One Valence benchmark scenario per process, so its peak RSS is its own.
//   node --import tsx bench/valence-scenario.ts inline_10k
// Prints one JSON line: { scenario, cold, warm, all, maxRssMb, tasks } (seconds). Uses the public API only.
// A scenario with `dispatches` submits that many dispatches at once (Promise.all, one client) and is timed
// until every one's result is in hand.
import { dispatch, electron, getResult, lattice, type Lattice } from "valence";

export const incInline = electron((i: number) => i + 1, { executor: "inline" });
export const incLocal = electron((i: number) => i + 1, { executor: "local" });

export const wideInline = lattice((n: number) => Array.from({ length: n }, (_, i) => incInline(i)));
export const wideLocal = lattice((n: number) => Array.from({ length: n }, (_, i) => incLocal(i)));
export const chainLocal = lattice((n: number) => {
  let x = incLocal(0);
  for (let i = 1; i < n; i++) x = incLocal(x);
  return x;
});

interface Scenario {
  workflow: Lattice<[number], unknown>;
  n: number;
  check: (r: unknown) => boolean;
  /** Dispatches submitted at once (default 1). */
  dispatches?: number;
}

const SCENARIOS: Record<string, Scenario> = {
  inline_10k: { workflow: wideInline, n: 10_000, check: (r: unknown) => (r as number[])[9_999] === 10_000 },
  inline_100k: { workflow: wideInline, n: 100_000, check: (r: unknown) => (r as number[])[99_999] === 100_000 },
  local_10k: { workflow: wideLocal, n: 10_000, check: (r: unknown) => (r as number[])[9_999] === 10_000 },
  local_chain_1k: { workflow: chainLocal, n: 1_000, check: (r: unknown) => r === 1_000 },
  // 20 small dispatches at once from one client (through a server: 20 runners at a time).
  concurrent_20x50: { workflow: wideInline, n: 50, dispatches: 20, check: (r: unknown) => (r as number[])[49] === 50 },
};

async function timeOnce(name: string): Promise<number> {
  const s = SCENARIOS[name] as Scenario;
  const one = async () => {
    const id = await dispatch(s.workflow)(s.n);
    const result = await getResult(id, { wait: true });
    if (result.status !== "COMPLETED" || !s.check(result.result)) {
      throw new Error(`${name}: wrong result (status ${result.status}${result.error ? `: ${result.error.message}` : ""})`);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: s.dispatches ?? 1 }, one));
  return (performance.now() - t0) / 1000;
}

const name = process.argv[2];
if (name) {
  if (!Object.hasOwn(SCENARIOS, name)) {
    console.error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(", ")}`);
    process.exitCode = 2;
  } else {
    const runs = Number(process.argv[3] ?? 1);
    const times: number[] = [];
    // The first dispatch of a process includes bundling, worker start-up and JIT warm-up ("cold");
    // later ones reuse the bundle and the pool. "warm" is the steady state: with enough runs, the
    // first three are left out (V8 is still optimising the hot paths during them).
    for (let i = 0; i < runs; i++) times.push(await timeOnce(name));
    const warm = times.slice(runs >= 6 ? 3 : 1).sort((a, b) => a - b);
    console.log(
      JSON.stringify({
        scenario: name,
        cold: times[0],
        warm: warm.length ? warm[Math.floor(warm.length / 2)] : null,
        all: times,
        tasks: (SCENARIOS[name] as Scenario).n * ((SCENARIOS[name] as Scenario).dispatches ?? 1),
        maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      }),
    );
  }
}
