// S3Transfer with the official AWS SDK against a real S3-compatible server on loopback (s3rver, from packages/test-services).
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startS3 } from "@valence/test-services";
import { TransferError, TransferSourceMissingError } from "../../errors.js";
import { transferContract } from "../testing.js";
import { runTransfer } from "./run-transfer.js";
import { S3Transfer } from "./s3-transfer.js";

async function s3Fixture() {
  const dir = await mkdtemp(join(tmpdir(), "valence-s3t-"));
  const server = await startS3(dir);
  const strategy = new S3Transfer({
    endpoint: server.endpoint,
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    partSize: 5 * 1024 * 1024,
  });
  return { dir, server, strategy, close: async () => (await server.stop(), await rm(dir, { recursive: true, force: true })) };
}

transferContract("s3", async () => {
  const f = await s3Fixture();
  return {
    strategy: f.strategy,
    address: (name) => `s3://${f.server.bucket}/runs/${name}`,
    // A bucket that is not there: the upload is refused (NoSuchBucket), the download finds nothing.
    deniedAddress: (name) => `s3://no-such-bucket-${process.pid}/${name}`,
    secrets: [f.server.secretAccessKey],
    close: f.close,
  };
});

describe("S3Transfer", () => {
  let f: Awaited<ReturnType<typeof s3Fixture>>;
  before(async () => (f = await s3Fixture()));
  after(async () => f?.close());

  test("uploading to a bucket that does not exist fails with a TransferError naming it (not a missing source)", async () => {
    const source = join(f.dir, "x.txt");
    await writeFile(source, "x");
    const to = `s3://no-such-bucket-${process.pid}/x.txt`;
    const error = await runTransfer({ from: source, to, order: "after", strategy: f.strategy }).catch((e: unknown) => e);
    assert.ok(error instanceof TransferError && !(error instanceof TransferSourceMissingError), String(error));
    assert.match(error.message, /NoSuchBucket/);
    assert.ok(error.message.includes(to));
  });

  test("keys keep their case and slashes; the object written is the one read back", async () => {
    const source = join(f.dir, "Mixed.txt");
    await writeFile(source, "case kept");
    const address = `s3://${f.server.bucket}/Deep/Path/Mixed Case.txt`;
    await runTransfer({ from: source, to: address, order: "after", strategy: f.strategy });
    const back = join(f.dir, "back.txt");
    await runTransfer({ from: address, to: back, order: "before", strategy: f.strategy });
    assert.equal(await readFile(back, "utf8"), "case kept");
  });

  test("bad options and addresses are refused when the strategy is made", () => {
    assert.throws(() => new S3Transfer({ partSize: 1024 }), /partSize must be an integer of at least 5242880 bytes/);
    assert.throws(() => new S3Transfer({ queueSize: 0 }), /queueSize must be a positive integer/);
    assert.throws(() => new S3Transfer({ endpoint: "not a url" }), /endpoint "not a url" is not a URL/);
    assert.throws(() => new S3Transfer({ credentials: { accessKeyId: "a", secretAccessKey: "" } }), /need both accessKeyId and secretAccessKey/);
    assert.throws(() => f.strategy.validate("s3://bucket-only"), /is not an S3 address \(write s3:\/\/bucket\/key\)/);
  });
});
