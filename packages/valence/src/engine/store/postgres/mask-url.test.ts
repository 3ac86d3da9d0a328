import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { maskUrl, targetOf } from "./mask-url.js";

describe("maskUrl", () => {
  it("replaces the password in the user part and keeps the rest of the URL as it was", () => {
    assert.equal(maskUrl("postgres://valence:s3cret@127.0.0.1:5999/db"), "postgres://valence:***@127.0.0.1:5999/db");
    assert.equal(maskUrl("postgresql://u:p%40ss%2Fw@db.example.com/prod?sslmode=require"), "postgresql://u:***@db.example.com/prod?sslmode=require");
  });

  it("masks a password given as a query parameter", () => {
    const masked = maskUrl("postgres://u@h:5432/db?password=hunter2&application_name=x");
    assert.doesNotMatch(masked, /hunter2/);
    assert.match(masked, /password=\*\*\*/);
    assert.match(masked, /application_name=x/);
    assert.doesNotMatch(maskUrl("postgres://u@h/db?PassWord=hunter2"), /hunter2/, "the parameter's name in any case");
  });

  it("leaves a URL without a password as it is", () => {
    assert.equal(maskUrl("postgres://valence@127.0.0.1:5432/postgres"), "postgres://valence@127.0.0.1:5432/postgres");
    assert.equal(maskUrl("postgres://127.0.0.1/db"), "postgres://127.0.0.1/db");
  });

  it("masks the password of a URL that does not parse", () => {
    // A port that is not a number: `new URL` refuses it.
    const bad = "postgres://valence:hunter2@127.0.0.1:notaport/db";
    assert.throws(() => new URL(bad));
    assert.equal(maskUrl(bad), "postgres://valence:***@127.0.0.1:notaport/db");
    assert.equal(maskUrl("postgres://valence:hun@ter2@[bad/db"), "postgres://valence:***@[bad/db", "an @ in the password");
    assert.equal(maskUrl("not a url ?password=hunter2"), "not a url ?password=***");
  });
});

describe("targetOf", () => {
  it("reads host, port, database and user, with libpq's defaults", () => {
    assert.deepEqual(targetOf("postgres://valence:pw@127.0.0.1:5999/db"), { host: "127.0.0.1", port: 5999, database: "db", user: "valence" });
    assert.deepEqual(targetOf("postgres://alice@db.example.com"), { host: "db.example.com", port: 5432, database: "alice", user: "alice" });
    assert.equal(targetOf("mysql://u:pw@h/db"), undefined);
    assert.equal(targetOf("nonsense"), undefined);
  });
});
