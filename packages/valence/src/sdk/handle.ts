/**
 * Handles: what an electron call returns while a lattice is traced.
 *
 * A handle stands for a node's future output. Reading a property or index of
 * it, or destructuring it, records attribute/index nodes (Covalent's getattr
 * and getitem nodes); using it as a plain value (`h + 1`, `if (h > 3)`,
 * `${h}`) throws a `HandleMisuseError` that explains what to do instead.
 */
import { HandleMisuseError } from "../errors.js";
import type { NodeId } from "../ids.js";
import type { Trace } from "./trace.js";

/** Registered symbol so handles made by another copy of the SDK (a bundle) are recognised. */
export const HANDLE = Symbol.for("valence.handle.v1");

export interface HandleInfo {
  readonly nodeId: NodeId;
  readonly trace: Trace;
  readonly label: string;
}

/** Destructuring yields index handles lazily; a spread of an unbounded handle stops here. */
const MAX_ITERATION = 10_000;

export function handleInfo(x: unknown): HandleInfo | undefined {
  if ((typeof x === "object" && x !== null) || typeof x === "function") {
    return (x as { [HANDLE]?: HandleInfo })[HANDLE];
  }
  return undefined;
}

export function isHandle(x: unknown): boolean {
  return handleInfo(x) !== undefined;
}

function misuse(label: string, what: string): HandleMisuseError {
  return new HandleMisuseError(
    `${label} was used as ${what} while the lattice was being traced. Inside a lattice, electrons return ` +
      `handles to their future outputs, not values: pass the handle to another electron and do this work inside ` +
      `that electron.`,
  );
}

export function makeHandle(info: HandleInfo): unknown {
  const children = new Map<string | number, unknown>();
  const child = (key: string | number): unknown => {
    let h = children.get(key);
    if (h === undefined) {
      h = info.trace.addAccessor(info, key);
      children.set(key, h);
    }
    return h;
  };
  const thrower = (what: string) => () => {
    throw misuse(info.label, what);
  };
  return new Proxy(Object.create(null) as object, {
    get(_t, prop) {
      if (prop === HANDLE) return info;
      if (typeof prop === "symbol") {
        if (prop === Symbol.toPrimitive) return thrower("a plain value (in arithmetic, a comparison or a string)");
        if (prop === Symbol.iterator) {
          return function* () {
            for (let i = 0; i < MAX_ITERATION; i++) yield child(i);
            throw misuse(info.label, "an iterable of unknown length (spread or for…of)");
          };
        }
        if (prop === Symbol.for("nodejs.util.inspect.custom")) return () => `[handle ${info.label}]`;
        return undefined;
      }
      // Promise resolution probes `then`; a handle is not a thenable.
      if (prop === "then") return undefined;
      if (prop === "valueOf" || prop === "toString") return thrower("a plain value");
      if (prop === "toJSON") return thrower("a JSON value");
      return child(/^(?:0|[1-9]\d*)$/.test(prop) ? Number(prop) : prop);
    },
    set() {
      throw misuse(info.label, "an object to assign to");
    },
    deleteProperty() {
      throw misuse(info.label, "an object to delete from");
    },
    ownKeys() {
      throw misuse(info.label, "an object whose keys are listed (spread or Object.keys)");
    },
    has() {
      throw misuse(info.label, "an object tested with `in`");
    },
  });
}
