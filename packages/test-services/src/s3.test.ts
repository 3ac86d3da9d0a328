import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive, startS3, type S3Server } from "./index.js";

describe("startS3", () => {
  let dir: string;
  let server: S3Server;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "valence-s3-"));
    server = await startS3(dir, { bucket: "probe" });
  });

  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves the configured bucket on loopback: an object put is read back, a missing key is 404", async () => {
    assert.match(server.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    const put = await fetch(`${server.endpoint}/probe/a/b.txt`, { method: "PUT", body: "hello s3" });
    assert.equal(put.status, 200, await put.text());
    const got = await fetch(`${server.endpoint}/probe/a/b.txt`);
    assert.equal(await got.text(), "hello s3");
    const missing = await fetch(`${server.endpoint}/probe/no-such-key`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /NoSuchKey/);
  });

  it("stop() ends the server", async () => {
    const [pid] = server.pids;
    await server.stop();
    assert.equal(isAlive(pid!), false);
    await assert.rejects(fetch(`${server.endpoint}/probe/a/b.txt`));
  });
});
