// The README's retry example: `npx valence run examples/retry-backoff/main.ts`.
import { electron, lattice, dispatchSync } from "valence";

let calls = 0;
const fetchPrices = electron(async (day: string) => {
  if (++calls < 3) throw Object.assign(new Error(`HTTP 503 for ${day}`), { name: "FetchError" });
  return { day, prices: [101.5, 99.8] };
}, {
  executor: "inline",
  retry: {
    attempts: 4,                        // tries in all, the first included
    backoff: { initial: 500, factor: 2 }, // 0.5 s, then 1 s, 2 s, … (a number: the first delay, doubling)
    maxDelay: 30_000,                   // no wait longer than 30 s
    on: ["FetchError", /ECONNRESET/],   // an error's name, or a pattern on "Name: message"; default: every error
  },
});

const prices = lattice((day: string) => fetchPrices(day));
const r = await dispatchSync(prices)("2026-12-07");
console.log(r.status, r.nodes[0]?.attempts, r.result); // COMPLETED 3 { day: '2026-12-07', prices: [ 101.5, 99.8 ] }
