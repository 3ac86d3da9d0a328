// known_hosts parsing and matching, against keys and hashes made by OpenSSH's own tools where it matters.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { checkHostKey, entryMatchesHost, fingerprint, keyTypeOf, parseKnownHosts, preferredAlgorithms } from "./known-hosts.js";

const dir = mkdtempSync(join(tmpdir(), "valence-known-hosts-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh ed25519 public key line ("ssh-ed25519 AAAA… comment") and its blob. */
function newKey(name: string, type = "ed25519"): { line: string; type: string; base64: string; blob: Buffer } {
  const file = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", name, "-f", file]);
  const line = readFileSync(`${file}.pub`, "utf8").trim();
  const [keyType, base64] = line.split(" ") as [string, string];
  return { line, type: keyType, base64, blob: Buffer.from(base64, "base64") };
}

const a = newKey("a");
const b = newKey("b");
const rsa = newKey("r", "rsa");

describe("known_hosts", () => {
  test("a plain host entry trusts its key on port 22 only; [host]:port entries on their port", () => {
    const entries = parseKnownHosts(`gpu1 ${a.type} ${a.base64}\n[gpu1]:2222 ${b.type} ${b.base64}\n`);
    assert.equal(checkHostKey(entries, "gpu1", 22, a.blob).kind, "trusted");
    assert.equal(checkHostKey(entries, "gpu1", 2222, b.blob).kind, "trusted");
    assert.equal(checkHostKey(entries, "gpu1", 2222, a.blob).kind, "mismatch");
    assert.deepEqual(checkHostKey(entries, "gpu2", 22, a.blob), { kind: "unknown", knownTypes: [] });
  });

  test("a changed key of the same type is a mismatch naming the line; another type is unknown, naming the known types", () => {
    const entries = parseKnownHosts(`# comment\n\nother ${b.type} ${b.base64}\n[h]:22 ${a.type} ${a.base64}\n`);
    const verdict = checkHostKey(entries, "h", 22, b.blob);
    assert.equal(verdict.kind, "mismatch");
    assert.equal(verdict.kind === "mismatch" && verdict.entry.line, 4);
    assert.deepEqual(checkHostKey(entries, "h", 22, rsa.blob), { kind: "unknown", knownTypes: ["ssh-ed25519"] });
  });

  test("comma lists, wildcards, negation and case", () => {
    assert.ok(entryMatchesHost("x,GPU1,y", "gpu1", 22));
    assert.ok(entryMatchesHost("gpu*", "gpu7", 22));
    assert.ok(entryMatchesHost("gpu?", "gpu7", 22));
    assert.ok(!entryMatchesHost("gpu?", "gpu17", 22));
    assert.ok(!entryMatchesHost("gpu*,!gpu3", "gpu3", 22));
    assert.ok(entryMatchesHost("[10.0.0.*]:2222", "10.0.0.5", 2222));
    assert.ok(!entryMatchesHost("[10.0.0.*]:2222", "10.0.0.5", 22));
  });

  test("hashed entries written by ssh-keygen -H match, for the plain and the [host]:port form", () => {
    const file = join(dir, "hashed");
    writeFileSync(file, `gpu1 ${a.type} ${a.base64}\n[127.0.0.1]:2200 ${b.type} ${b.base64}\n`);
    execFileSync("ssh-keygen", ["-q", "-H", "-f", file], { stdio: "ignore" });
    const text = readFileSync(file, "utf8");
    assert.match(text, /^\|1\|/m);
    assert.doesNotMatch(text, /gpu1|127\.0\.0\.1/);
    const entries = parseKnownHosts(text);
    assert.equal(checkHostKey(entries, "gpu1", 22, a.blob).kind, "trusted");
    assert.equal(checkHostKey(entries, "127.0.0.1", 2200, b.blob).kind, "trusted");
    assert.equal(checkHostKey(entries, "127.0.0.1", 2200, a.blob).kind, "mismatch");
    assert.equal(checkHostKey(entries, "gpu2", 22, a.blob).kind, "unknown");
  });

  test("a hash made here with a random salt matches too", () => {
    const salt = randomBytes(20);
    const hash = createHmac("sha1", salt).update("[h]:2022").digest("base64");
    const entries = parseKnownHosts(`|1|${salt.toString("base64")}|${hash} ${a.type} ${a.base64}`);
    assert.equal(checkHostKey(entries, "h", 2022, a.blob).kind, "trusted");
  });

  test("@revoked beats a trusted entry; @cert-authority lines are ignored", () => {
    const entries = parseKnownHosts(`h ${a.type} ${a.base64}\n@revoked * ${a.type} ${a.base64}\n@cert-authority * ${rsa.type} ${rsa.base64}\n`);
    assert.equal(checkHostKey(entries, "h", 22, a.blob).kind, "revoked");
    assert.equal(checkHostKey(entries, "h", 22, rsa.blob).kind, "unknown");
  });

  test("fingerprints are those ssh-keygen -l prints", () => {
    const printed = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", join(dir, "a.pub")], { encoding: "utf8" });
    assert.equal(printed.split(" ")[1], fingerprint(a.blob));
    assert.equal(keyTypeOf(rsa.blob), "ssh-rsa");
  });

  test("malformed lines are skipped", () => {
    const entries = parseKnownHosts(`garbage\n@weird h ${a.type} ${a.base64}\nh ${a.type} ${a.base64}\n`);
    assert.deepEqual(entries.map((e) => e.line), [3]);
  });

  test("the algorithms of the known key types are asked for first", () => {
    const entries = parseKnownHosts(`[h]:2 ${rsa.type} ${rsa.base64}\n[h]:2 ${a.type} ${a.base64}\nz ${b.type} ${b.base64}`);
    assert.deepEqual(preferredAlgorithms(entries, "h", 2), ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa", "ssh-ed25519"]);
    assert.deepEqual(preferredAlgorithms(entries, "q", 2), []);
  });
});
