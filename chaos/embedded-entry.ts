// Target (d) of the chaos campaign: an embedded `valence run` of the mixed workflow.
//   valence run chaos/embedded-entry.ts -- N RUNS_LOG OUT_FILE
// Prints the dispatch id as soon as it is stored, then waits for the result.
import { dispatch, getResult } from "valence";
import { mixed } from "./workflow.js";

const [n, log, out] = process.argv.slice(2);
const id = await dispatch(mixed)(Number(n), log as string, out as string);
console.log(id);
await getResult(id, { wait: true });
