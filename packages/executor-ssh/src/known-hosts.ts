/**
 * OpenSSH's known_hosts, read the way `ssh` reads it: plain host names,
 * `[host]:port` for other ports, comma-separated patterns with `*`, `?` and
 * `!` negation, hashed `|1|salt|hash` entries, and the `@revoked` marker
 * (`@cert-authority` lines are skipped: host certificates are not supported).
 * A key matches when its type and base64 blob are those of an entry.
 */
import { createHash, createHmac } from "node:crypto";

export interface KnownHostEntry {
  /** 1-based line number, for messages. */
  readonly line: number;
  readonly marker: "revoked" | "cert-authority" | undefined;
  readonly patterns: string;
  readonly keyType: string;
  /** The key blob, base64, as written in the file. */
  readonly key: string;
}

/** What known_hosts says about the key a server offered. */
export type HostKeyVerdict =
  | { readonly kind: "trusted"; readonly entry: KnownHostEntry }
  | { readonly kind: "unknown"; readonly knownTypes: readonly string[] }
  | { readonly kind: "mismatch"; readonly entry: KnownHostEntry }
  | { readonly kind: "revoked"; readonly entry: KnownHostEntry };

/** Parses known_hosts text; malformed lines are skipped, as `ssh` does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry["marker"];
    if (fields[0]?.startsWith("@")) {
      const m = fields.shift();
      if (m === "@revoked") marker = "revoked";
      else if (m === "@cert-authority") marker = "cert-authority";
      else return;
    }
    const [patterns, keyType, key] = fields;
    if (!patterns || !keyType || !key) return;
    entries.push({ line: i + 1, marker, patterns, keyType, key });
  });
  return entries;
}

/**
 * The names `ssh` looks a destination up by: `host` on port 22, else
 * `[host]:port`. Port 22 also accepts `[host]:22`, which some tools write.
 */
export function lookupNames(hostname: string, port: number): string[] {
  const bracketed = `[${hostname}]:${port}`;
  return port === 22 ? [hostname, bracketed] : [bracketed];
}

/** Whether an entry's host field names the destination. */
export function entryMatchesHost(patterns: string, hostname: string, port: number): boolean {
  const names = lookupNames(hostname.toLowerCase(), port);
  if (patterns.startsWith("|")) return names.some((name) => hashedMatches(patterns, name));
  let matched = false;
  for (const raw of patterns.split(",")) {
    const negated = raw.startsWith("!");
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (!names.some((name) => globMatches(pattern, name))) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, as `HashKnownHosts yes` writes. */
function hashedMatches(field: string, name: string): boolean {
  const parts = field.split("|");
  if (parts.length !== 4 || parts[1] !== "1") return false;
  const salt = Buffer.from(parts[2] ?? "", "base64");
  const expected = parts[3] ?? "";
  return createHmac("sha1", salt).update(name).digest("base64") === expected;
}

function globMatches(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === name;
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${source}$`).test(name);
}

/**
 * Checks the key a server offered (its wire blob) against the entries for
 * the destination: revoked beats trusted, a trusted match wins, a different
 * key of the same type is a mismatch, anything else is unknown.
 */
export function checkHostKey(entries: readonly KnownHostEntry[], hostname: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  const offeredType = keyTypeOf(keyBlob);
  const offered = keyBlob.toString("base64");
  const forHost = entries.filter((e) => e.marker !== "cert-authority" && entryMatchesHost(e.patterns, hostname, port));
  const revoked = entries.find((e) => e.marker === "revoked" && sameKey(e, offeredType, offered));
  if (revoked) return { kind: "revoked", entry: revoked };
  const plain = forHost.filter((e) => e.marker === undefined);
  const trusted = plain.find((e) => sameKey(e, offeredType, offered));
  if (trusted) return { kind: "trusted", entry: trusted };
  const sameType = plain.find((e) => e.keyType === offeredType);
  if (sameType) return { kind: "mismatch", entry: sameType };
  return { kind: "unknown", knownTypes: [...new Set(plain.map((e) => e.keyType))] };
}

function sameKey(entry: KnownHostEntry, type: string, base64: string): boolean {
  return entry.keyType === type && entry.key.replace(/=+$/, "") === base64.replace(/=+$/, "");
}

/** The key type a wire-format public key blob names (its first string), e.g. `ssh-ed25519`. */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return "unknown";
  const length = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + length).toString("latin1");
}

/** `SHA256:…` as `ssh-keygen -l` prints it. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** The fingerprint of an entry's key, for mismatch messages. */
export function entryFingerprint(entry: KnownHostEntry): string {
  return fingerprint(Buffer.from(entry.key, "base64"));
}

/** Server host key algorithms ssh2 can verify for each known_hosts key type. */
const ALGORITHMS: Readonly<Record<string, readonly string[]>> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};

/**
 * Host key algorithms to ask for first: those of the key types known_hosts
 * has for this destination, as `ssh` does, so a host with several keys
 * presents the one we know.
 */
export function preferredAlgorithms(entries: readonly KnownHostEntry[], hostname: string, port: number): string[] {
  const types = entries
    .filter((e) => e.marker === undefined && entryMatchesHost(e.patterns, hostname, port))
    .map((e) => e.keyType);
  return [...new Set(types.flatMap((t) => ALGORITHMS[t] ?? []))];
}
