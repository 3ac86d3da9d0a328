// FileTransfer with strategies in real dispatches: HTTP and S3 in and out, on local, inline and a remote executor,
// against a real HTTP server and a real S3-compatible server (s3rver) on loopback.
import "./fixtures/env.js";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { S3Client, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { startS3, type S3Server } from "@valence/test-services";
import { startFileServer, type FileServer } from "../src/executor/transfer/test-support/file-server.js";

const dir = mkdtempSync(join(tmpdir(), "valence-transfer-e2e-"));
const PASSWORD = `pw-${process.pid}-e2e`;
let http: FileServer;
let s3: S3Server;

describe("FileTransfer strategies in a dispatch", { timeout: 180_000 }, () => {
  let fx: typeof import("./fixtures/transfer-workflows.js");
  let api: typeof import("../src/index.js");
  let client: S3Client;

  before(async () => {
    const served = join(dir, "served");
    mkdirSync(join(served, "files"), { recursive: true });
    writeFileSync(join(served, "files", "in.txt"), "over http");
    for (const sub of ["http-local", "s3-local", "s3-inline", "http-remote", "remote-work"]) mkdirSync(join(dir, sub));
    http = await startFileServer(served, "valence", PASSWORD);
    s3 = await startS3(dir);
    client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "in.txt", Body: "from s3" }));
    // Set before the fixture loads: local workers and the remote task process inherit it and load the same module.
    Object.assign(process.env, {
      VALENCE_TEST_TRANSFER_DIR: dir,
      VALENCE_TEST_HTTP_BASE: http.url.replace("http://", `http://valence:${PASSWORD}@`),
      VALENCE_TEST_S3_ENDPOINT: s3.endpoint,
      VALENCE_TEST_S3_BUCKET: s3.bucket,
      VALENCE_TEST_S3_SECRET: s3.secretAccessKey,
    });
    api = await import("../src/index.js");
    fx = await import("./fixtures/transfer-workflows.js");
  });

  after(async () => {
    client?.destroy();
    await http?.close();
    await s3?.stop();
  });

  it("downloads before the task and uploads after it, over HTTP and S3, on local, inline and a remote executor", async () => {
    const r = await api.dispatchSync(fx.transferFlow)();
    assert.equal(r.status, "COMPLETED", r.toString());
    assert.deepEqual(r.result, ["over http", "from s3", "from s3", "over http"]);
    assert.equal(readFileSync(join(dir, "served", "files", "out-local.txt"), "utf8"), "OVER HTTP");
    assert.equal(readFileSync(join(dir, "served", "files", "out-remote.txt"), "utf8"), "OVER HTTP");
    for (const key of ["out/local.txt", "out/inline.txt"]) {
      const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
      assert.equal(await got.Body?.transformToString(), "FROM S3", key);
    }
  });

  it("a URL that answers 404 fails the node with TransferSourceMissingError naming it, password masked", async () => {
    const r = await api.dispatchSync(fx.missingOverHttpFlow)();
    assert.equal(r.status, "FAILED");
    const error = r.nodes[0]?.error;
    assert.equal(error?.name, "TransferSourceMissingError");
    assert.ok(error?.message.includes(`http://valence:***@127.0.0.1:${new URL(http.url).port}/files/no-such-file.txt`), error?.message);
    assert.match(error?.message ?? "", /answered 404/);
    assert.ok(!JSON.stringify(r.nodes[0]).includes(PASSWORD), "the password reached the stored node");
    assert.ok(!r.toString().includes(PASSWORD));
  });

  it("a missing S3 object fails the node with TransferSourceMissingError naming it, the secret key nowhere", async () => {
    const r = await api.dispatchSync(fx.missingInS3Flow)();
    assert.equal(r.status, "FAILED");
    const error = r.nodes[0]?.error;
    assert.equal(error?.name, "TransferSourceMissingError");
    assert.match(error?.message ?? "", new RegExp(`s3://${s3.bucket}/no-such-key\\.txt.*NoSuchKey`));
    assert.ok(!JSON.stringify(r.nodes[0]).includes(s3.secretAccessKey));
    assert.ok(!(r.nodes[0]?.stderr ?? "").includes(s3.secretAccessKey));
  });
});
