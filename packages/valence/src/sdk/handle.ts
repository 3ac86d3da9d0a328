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

/** Registered symbol so handles made by another copy of the SDK (a bundle) are recognised. */
export const HANDLE = Symbol.for("valence.handle.v1");

/** What a handle needs of the trace that made it (the Trace in trace.ts): record `parent.key`, get its handle. */
export interface HandleOwner {
  addAccessor(parent: HandleInfo, key: string | number): unknown;
}

export interface HandleInfo {
  readonly nodeId: NodeId;
  readonly trace: HandleOwner;
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

function misuse(label: string, what: string): HandleMisuseError {
  return new HandleMisuseError(
    `${label} was used as ${what} while the lattice was being traced. Inside a lattice, electrons return ` +
      `handles to their future outputs, not values: pass the handle to another electron and do this work inside ` +
      `that electron.`,
  );
}

interface HandleTarget {
  readonly info: HandleInfo;
  /** Accessor handles already made (`h.x` twice is one node), created on first access. */
  children: Map<string | number, unknown> | undefined;
}

function child(t: HandleTarget, key: string | number): unknown {
  t.children ??= new Map();
  let h = t.children.get(key);
  if (h === undefined) {
    h = t.info.trace.addAccessor(t.info, key);
    t.children.set(key, h);
  }
  return h;
}

const thrower = (t: HandleTarget, what: string) => () => {
  throw misuse(t.info.label, what);
};

// One handler for every handle: a dispatch of 100k electrons makes 100k handles.
const HANDLER: ProxyHandler<HandleTarget> = {
  get(t, prop) {
    if (prop === HANDLE) return t.info;
    if (typeof prop === "symbol") {
      if (prop === Symbol.toPrimitive) return thrower(t, "a plain value (in arithmetic, a comparison or a string)");
      if (prop === Symbol.iterator) {
        return function* () {
          for (let i = 0; i < MAX_ITERATION; i++) yield child(t, i);
          throw misuse(t.info.label, "an iterable of unknown length (spread or for…of)");
        };
      }
      if (prop === Symbol.for("nodejs.util.inspect.custom")) return () => `[handle ${t.info.label}]`;
      return undefined;
    }
    // Promise resolution probes `then`; a handle is not a thenable.
    if (prop === "then") return undefined;
    if (prop === "valueOf" || prop === "toString") return thrower(t, "a plain value");
    if (prop === "toJSON") return thrower(t, "a JSON value");
    return child(t, /^(?:0|[1-9]\d*)$/.test(prop) ? Number(prop) : prop);
  },
  set(t) {
    throw misuse(t.info.label, "an object to assign to");
  },
  deleteProperty(t) {
    throw misuse(t.info.label, "an object to delete from");
  },
  ownKeys(t) {
    throw misuse(t.info.label, "an object whose keys are listed (spread or Object.keys)");
  },
  has(t) {
    throw misuse(t.info.label, "an object tested with `in`");
  },
};

export function makeHandle(info: HandleInfo): unknown {
  return new Proxy<HandleTarget>({ info, children: undefined }, HANDLER);
}
