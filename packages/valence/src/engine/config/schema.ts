/**
 * The config file's shape, as one zod schema; the file's TypeScript type is
 * inferred from it. Messages are written for the person editing the file:
 * each says which key and what it must be.
 */
import type { z as Z } from "zod";
import { lazySchema } from "../lazy-zod.js";
import { ConfigValueError, UnknownConfigKeyError } from "../../errors.js";

/** A zod error option that says what the value must be and what it was. */
function mustBe(what: string) {
  return { error: (issue: { input?: unknown }) => `must be ${what}, not ${describeValue(issue.input)}` };
}

/**
 * Like `mustBe`, but leaves unknown-key issues to `unknownKey` below, which
 * lists the keys that are allowed.
 */
function tableMustBe(what: string) {
  return {
    error: (issue: { code?: string; input?: unknown }) =>
      issue.code === "invalid_type" ? `must be ${what}, not ${describeValue(issue.input)}` : undefined,
  };
}

/** The schema, built (and zod loaded) on first use. */
export const configFileSchema = lazySchema((z) => {
  const nonEmptyString = (what: string) => z.string(mustBe(what)).min(1, mustBe(what));
  return z.strictObject(
    {
      data_dir: nonEmptyString("a directory path (a non-empty string)").optional(),
      executor_dirs: z
        .array(
          z.string({
            error: (issue) =>
              `must be an array of strings (directory paths); item ${String(issue.path?.at(-1))} is ${describeValue(issue.input)}`,
          }),
          mustBe("an array of strings (directory paths)"),
        )
        .optional(),
      default_executor: nonEmptyString('an executor name such as "local" (a non-empty string)').optional(),
      output_limit: z
        .number(mustBe("a whole number of bytes of at least 1024, such as 1048576 (1 MiB)"))
        .int(mustBe("a whole number of bytes of at least 1024, such as 1048576 (1 MiB)"))
        .min(1024, mustBe("a whole number of bytes of at least 1024, such as 1048576 (1 MiB)"))
        .optional(),
      retry: z
        .strictObject(
          {
            attempts: z.number(mustBe("a whole number from 1 to 1001 (tries in all)")).int(mustBe("a whole number from 1 to 1001 (tries in all)")),
            backoff: z.number(mustBe("milliseconds before the first retry (a number)")).optional(),
            factor: z.number(mustBe("a number ≥ 1 (each delay is the one before times it)")).optional(),
            max_delay: z.number(mustBe("milliseconds (a number)")).optional(),
            jitter: z.boolean(mustBe("true or false")).optional(),
            on: z.array(z.string(mustBe('an error name or a "/pattern/flags" (a string)')), mustBe('an array of error names or "/pattern/flags" strings')).optional(),
          },
          tableMustBe("a table ([retry])"),
        )
        .optional(),
      retention: z
        .strictObject(
          {
            older_than: nonEmptyString('an age such as "30d", "12h" or "1w" (a string)'),
            status: z.array(z.string(mustBe("a final status (a string)")), mustBe('an array of final statuses such as ["COMPLETED"]')).optional(),
            every: nonEmptyString('how often to sweep, such as "1h" (a string)').optional(),
          },
          tableMustBe("a table ([retention])"),
        )
        .optional(),
      store: nonEmptyString('"sqlite" or a Postgres URL such as "postgres://valence@db:5432/valence" (a non-empty string)').optional(),
      server: z
        .strictObject(
          { address: nonEmptyString('an address such as "127.0.0.1:48008" (a non-empty string)').optional() },
          tableMustBe("a table ([server])"),
        )
        .optional(),
      traces: z
        .strictObject(
          { endpoint: nonEmptyString('an OTLP/HTTP endpoint URL such as "http://localhost:4318" (a non-empty string)').optional() },
          tableMustBe("a table ([traces])"),
        )
        .optional(),
      executors: z
        .record(
          z.string(),
          z.record(z.string(), z.unknown(), mustBe("a table of that executor's options ([executors.NAME])")),
          tableMustBe("a table of tables ([executors.NAME] sections)"),
        )
        .optional(),
    },
    tableMustBe("a table"),
  );
});

/** The config file's contents once validated. */
export type ConfigFile = Z.infer<ReturnType<typeof configFileSchema>>;

/**
 * Validates a parsed TOML table, throwing `ConfigValueError` or
 * `UnknownConfigKeyError` for the first problem (the one nearest the top of
 * the schema; fixing problems one at a time is how people edit config files).
 */
export function validateConfigFile(table: unknown, source: string): ConfigFile {
  const result = configFileSchema().safeParse(table);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new ConfigValueError(source, "(file)", "is invalid");
  if (issue.code === "unrecognized_keys") {
    const parent = issue.path.map(String).join(".");
    const key = parent ? `${parent}.${issue.keys[0]}` : String(issue.keys[0]);
    throw new UnknownConfigKeyError(source, key, knownKeys(parent));
  }
  // An item of executor_dirs is reported against the array (its message names the item): the array is the key.
  const key = issue.path.filter((p) => typeof p === "string").join(".");
  throw new ConfigValueError(source, key, issue.message);
}

function knownKeys(parent: string): string[] {
  const schema = configFileSchema();
  const tables = { server: schema.shape.server, traces: schema.shape.traces, retry: schema.shape.retry, retention: schema.shape.retention } as const;
  const table = Object.hasOwn(tables, parent) ? tables[parent as keyof typeof tables] : undefined;
  const shape = table ? table.unwrap().shape : schema.shape;
  return Object.keys(shape).map((k) => (parent ? `${parent}.${k}` : k));
}

/** Names a TOML value's type the way the TOML spec does, for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "missing";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  switch (typeof value) {
    case "string":
      return value === "" ? "an empty string" : `the string ${JSON.stringify(value)}`;
    case "number":
    case "bigint":
      return `the number ${String(value)}`;
    case "boolean":
      return `the boolean ${String(value)}`;
    case "object":
      return value === null ? "null" : "a table";
    default:
      return typeof value;
  }
}
