/**
 * Request bodies, validated once at the edge; the TypeScript types follow
 * from the schemas. Messages name the field (`nodes[3].nodeId: …`).
 */
import { z } from "zod";

const encoded = z.string().min(1, "must be a value in the codec's encoding (a non-empty string)");
const nullableText = z.string().nullable();

const retryPolicyShape = z.strictObject({
  initial: z.number().min(0),
  factor: z.number().min(1),
  maxDelay: z.number().min(0),
  jitter: z.boolean(),
  on: z.array(z.union([z.strictObject({ name: z.string().min(1) }), z.strictObject({ pattern: z.string(), flags: z.string().regex(/^[imsu]*$/) })])).min(1).optional(),
});

function isRetryPolicyJson(s: string): boolean {
  try {
    const parsed = retryPolicyShape.safeParse(JSON.parse(s));
    if (!parsed.success) return false;
    // A pattern the engine could not compile would fail the node's first retry instead of the submission.
    for (const m of parsed.data.on ?? []) if ("pattern" in m) new RegExp(m.pattern, m.flags);
    return true;
  } catch {
    return false;
  }
}

const cachePolicyShape = z.strictObject({
  code: z.string().regex(/^[0-9a-f]{64}$/),
  ttl: z.number().positive().nullable(),
  version: z.string().min(1).optional(),
});

function isCachePolicyJson(s: string): boolean {
  try {
    return cachePolicyShape.safeParse(JSON.parse(s)).success;
  } catch {
    return false;
  }
}

export const submittedNodeSchema = z.strictObject({
  nodeId: z.number().int().min(0),
  kind: z.enum(["electron", "parameter", "attribute", "index", "collection", "sublattice"]),
  name: z.string().min(1).max(1000),
  electronId: nullableText,
  executor: nullableText,
  retries: z.number().int().min(0).max(1000),
  retryPolicy: z
    .string()
    .max(10_000)
    .refine(isRetryPolicyJson, "must be the JSON of a retry policy: { initial, factor, maxDelay, jitter, on? }")
    .nullable()
    .optional(),
  cachePolicy: z
    .string()
    .max(1000)
    .refine(isCachePolicyJson, "must be the JSON of a cache policy: { code: sha256 hex, ttl: ms or null, version? }")
    .nullable()
    .optional(),
  timeoutMs: z.number().positive().nullable(),
  key: nullableText,
  holes: nullableText,
  value: nullableText,
  output: nullableText,
  outputBlob: z.string().regex(/^[0-9a-f]{64}$/, "must be the sha256 of an uploaded value (64 hex digits)").optional(),
});

export const submitSchema = z.strictObject({
  name: z.string().min(1).max(1000),
  latticeId: nullableText,
  entryFile: nullableText,
  cwd: z.string().startsWith("/", "must be an absolute directory path"),
  inputs: z.string(),
  inputsBlob: z.string().regex(/^[0-9a-f]{64}$/, "must be the sha256 of an uploaded value (64 hex digits)").optional(),
  outputTemplate: encoded,
  bundleHash: z.string().regex(/^[0-9a-f]{64}$/, "must be the sha256 of an uploaded bundle (64 hex digits)").nullable(),
  nodes: z.array(submittedNodeSchema).min(1, "must hold at least one node"),
  edges: z.array(z.strictObject({ source: z.number().int().min(0), target: z.number().int().min(0), param: z.string().min(1) })),
  sources: z.record(z.string(), z.string().max(1024 * 1024)).optional(),
});

export const cancelSchema = z.strictObject({
  nodes: z.array(z.number().int().min(0)).optional(),
});

export const redispatchSchema = z.strictObject({
  reusePreviousResults: z.boolean().optional(),
  replaceElectrons: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        electronId: z.string().min(1),
        bundleHash: z.string().regex(/^[0-9a-f]{64}$/, "must be the sha256 of an uploaded bundle (64 hex digits)").nullable(),
        executor: z.string().nullable(),
        source: z.string().max(1024 * 1024).optional(),
      }),
    )
    .optional(),
});

/** `nodes[3].nodeId: must be …` from a zod error: the first issue, with its path. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid body";
  const path = issue.path.reduce<string>(
    (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    "",
  );
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** `POST /triggers` (api/wire.ts TriggerBody); what the spec means is checked by the TriggerService. */
export const triggerSchema = z.strictObject({
  spec: z.union([
    z.strictObject({ watch: z.string().min(1, "must be the path of a directory") }),
    z.strictObject({ every: z.union([z.string().min(1), z.number().positive()]) }),
    z.strictObject({ cron: z.string().min(1, "must be a cron expression"), timezone: z.string().min(1).optional() }),
  ]),
  latticeName: z.string().min(1).max(1000),
  latticeId: z.string().min(1),
  withArg: z.boolean(),
  template: submitSchema,
});
