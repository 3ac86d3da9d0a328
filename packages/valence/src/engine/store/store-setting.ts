/**
 * Which store a process uses: the embedded SQLite file in the data dir (the
 * default), or a Postgres database that several servers share. Set with
 * `store = "postgres://…"` in the config file, `VALENCE_STORE`, or
 * `valence start --store`.
 */
import { ConfigValueError } from "../../errors.js";
import { maskUrl } from "./postgres/mask-url.js";

export type StoreSetting = { readonly kind: "sqlite" } | { readonly kind: "postgres"; readonly url: string };

export const SQLITE: StoreSetting = { kind: "sqlite" };

/**
 * Reads a store setting; `source` names where it came from (a file, an env variable, an
 * option) for the error. The password of a URL is never part of an error.
 */
export function parseStoreSetting(raw: string, source: string): StoreSetting {
  const value = raw.trim();
  if (value === "sqlite") return SQLITE;
  if (/^postgres(ql)?:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConfigValueError(source, "store", `is not a valid URL (${maskUrl(value)}); write it as postgres://user:password@host:5432/database`);
    }
    if (!url.hostname && !url.searchParams.get("host")) {
      throw new ConfigValueError(source, "store", `names no host (${maskUrl(value)}); write it as postgres://user:password@host:5432/database`);
    }
    return { kind: "postgres", url: value };
  }
  throw new ConfigValueError(source, "store", `must be "sqlite" or a Postgres URL (postgres://user:password@host:5432/database), not ${JSON.stringify(maskUrl(value))}`);
}

/** The setting as `VALENCE_STORE` carries it to a child process (the password included: an environment, never a command line). */
export function storeEnvValue(s: StoreSetting): string {
  return s.kind === "sqlite" ? "sqlite" : s.url;
}

/** How the setting is shown: `sqlite`, or the URL with its password masked. */
export function describeStore(s: StoreSetting): string {
  return s.kind === "sqlite" ? "sqlite" : maskUrl(s.url);
}
