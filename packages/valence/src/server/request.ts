/** Reading a request at the edge: JSON bodies, schemas, numbers in the query; each refusal a 400 that names the field. */
import type { Context } from "hono";
import type { z } from "zod";
import { BadRequestError } from "./http-errors.js";
import { describeIssue } from "./schemas.js";

export async function jsonBody(c: Context): Promise<unknown> {
  if (!(c.req.header("content-type") ?? "").includes("application/json")) {
    throw new BadRequestError("send the body as JSON (Content-Type: application/json)");
  }
  return parseJson(await c.req.text());
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`malformed JSON: ${(error as Error).message}`);
  }
}

export function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new BadRequestError(describeIssue(r.error));
  return r.data;
}

export function intQuery(raw: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new BadRequestError(`${name}: must be a whole number from ${min} to ${max}`);
  return n;
}
