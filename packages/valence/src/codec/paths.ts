/**
 * Paths name the value an error is about, written the way a user would reach it
 * in code: `args[1].config.handler`, `value["a b"]`, `value[Symbol(id)]`,
 * `value.get("k")` for the value under a Map key, `value.keys()[2]` for the
 * third key of a Map, `value.values()[2]` for the third item of a Set or the
 * value under a Map's third key when that key is an object.
 *
 * The encoder records raw steps and formats them only when it refuses a value,
 * so the walk over a value that is fine pays one push and one pop per level.
 */
export type StepKind = "prop" | "symbol" | "index" | "get" | "key" | "value";

/** The steps from the root to the value being encoded, pushed and popped as the walk goes. */
export class PathSteps {
  private readonly kinds: StepKind[] = [];
  private readonly keys: unknown[] = [];

  push(kind: StepKind, key: unknown): void {
    this.kinds.push(kind);
    this.keys.push(key);
  }

  pop(): void {
    this.kinds.pop();
    this.keys.pop();
  }

  format(root: string): string {
    let out = root;
    for (let i = 0; i < this.kinds.length; i++) out += formatStep(this.kinds[i]!, this.keys[i]);
    return out;
  }
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function formatStep(kind: StepKind, key: unknown): string {
  switch (kind) {
    case "prop": {
      const name = key as string;
      return IDENTIFIER.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
    }
    case "symbol":
      return `[${String(key)}]`;
    case "index":
      return `[${key as number}]`;
    case "get":
      return `.get(${formatMapKey(key)})`;
    case "key":
      return `.keys()[${key as number}]`;
    case "value":
      return `.values()[${key as number}]`;
    default: {
      const unknownKind: never = kind;
      throw new Error(`unknown path step ${String(unknownKind)}`);
    }
  }
}

/** Whether `key` prints well inside `.get(…)`; object keys are named by position instead. */
export function isPrintableMapKey(key: unknown): boolean {
  const type = typeof key;
  return key === null || (type !== "object" && type !== "function" && type !== "symbol");
}

function formatMapKey(key: unknown): string {
  if (typeof key === "string") return JSON.stringify(key);
  if (typeof key === "bigint") return `${key}n`;
  return String(key);
}
