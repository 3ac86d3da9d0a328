// Type-level tests: handles are typed like the values they stand for. These
// lines are checked by `tsc` in `npm test`; the runtime assertions keep them honest.
import assert from "node:assert/strict";
import { it } from "node:test";
import { electron } from "./electron.js";
import { lattice } from "./lattice.js";

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectType = <T>(_v: T & {}, ok: true): boolean => ok;

const point = electron((x: number) => ({ x, y: [x, x * 2] as [number, number], label: `p${x}` }));
const length = electron((s: string) => s.length);
const asyncDouble = electron(async (x: number) => x * 2);
const add = electron((a: number, b: number) => a + b);

it("types handles like return values: fields, indexes, destructuring, async results", () => {
  const wf = lattice((n: number) => {
    const p = point(n);
    const [a, b] = p.y;
    expectType<Equals<typeof p.x, number>>(true, true);
    expectType<Equals<typeof a, number>>(true, true);
    const d = asyncDouble(b);
    // An async electron's handle may be passed where its value is expected.
    const s = add(d, a);
    // @ts-expect-error a string handle is not a number argument
    add(p.label, 1);
    return [s, length(p.label)];
  });
  const g = wf.build(2);
  assert.deepEqual(
    g.nodes.filter((n) => n.kind === "electron").map((n) => n.name),
    ["point", "asyncDouble", "add", "add", "length"],
  );
});
