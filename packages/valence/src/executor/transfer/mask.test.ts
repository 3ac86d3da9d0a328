import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { maskCredentials } from "./mask.js";

describe("maskCredentials", () => {
  test("a URL's password goes, its user stays", () => {
    assert.equal(maskCredentials("GET https://alice:hunter2@example.org/a failed"), "GET https://alice:***@example.org/a failed");
    assert.equal(maskCredentials("sftp://bob:p%40ss@h/x and http://c:d@e/f"), "sftp://bob:***@h/x and http://c:***@e/f");
  });

  test("signing and token query parameters are hidden; others stay", () => {
    const url = "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=abc123&part=2&token=t0k";
    assert.equal(maskCredentials(url), "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***&part=2&token=***");
  });

  test("named secrets are hidden, raw and URL-encoded; short ones are left (they would hide ordinary words)", () => {
    assert.equal(maskCredentials("key wJal/rXU+tn= in wJal%2FrXU%2Btn%3D", ["wJal/rXU+tn="]), "key *** in ***");
    assert.equal(maskCredentials("a cat", ["cat"]), "a cat");
  });

  test("paths, rsync addresses and plain text pass unchanged", () => {
    for (const text of ["/srv/data/in.csv", "alice@host:/srv/x", "s3://bucket/key", "exited with 23"]) assert.equal(maskCredentials(text), text);
  });
});
