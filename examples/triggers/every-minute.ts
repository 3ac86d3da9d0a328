// An interval and a cron schedule on the server:
//   npx valence start && npx valence run examples/triggers/every-minute.ts
import { electron, lattice, trigger } from "valence";

export const stamp = electron((at: string) => `tick at ${at}`);

// Called with the tick's scheduled time, as an ISO string.
export const heartbeat = lattice((at: string) => stamp(at));

console.log(await trigger(heartbeat, { every: "1m" }));
console.log(await trigger(heartbeat, { cron: "0 7 * * 1-5", timezone: "Europe/Paris" })); // weekdays at 07:00, Paris time
