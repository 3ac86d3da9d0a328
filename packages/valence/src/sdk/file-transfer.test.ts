// FileTransfer(from, to, { order, strategy }): what it infers, and every configuration it refuses at definition.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HttpTransfer, RsyncTransfer, S3Transfer } from "../executor/transfer/index.js";
import type { TransferStrategy } from "../executor/transfer/strategy.js";
import { FileTransfer } from "./deps.js";
import { electron } from "./electron.js";
import { OptionsError } from "./options.js";

const refused = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof OptionsError && message.test(e.message) && !/hunter2/.test(e.message));

describe("FileTransfer", () => {
  test("plain paths are copies with no strategy; file:// URLs are paths", () => {
    const f = FileTransfer("file:///data/in.csv", "in.csv");
    assert.equal(f.strategy, undefined);
    assert.equal(f.from, "/data/in.csv");
    assert.equal(f.order, "before");
  });

  test("an http(s) URL infers HttpTransfer, a user@host:path RsyncTransfer, and a remote `to` infers order after", () => {
    const down = FileTransfer("https://example.org/a.csv", "a.csv");
    assert.ok(down.strategy instanceof HttpTransfer);
    assert.equal(down.order, "before");
    const up = FileTransfer("out.csv", "http://example.org/up/out.csv");
    assert.ok(up.strategy instanceof HttpTransfer);
    assert.equal(up.order, "after");
    const rsync = FileTransfer("alice@data.example.org:/srv/in.csv", "in.csv");
    assert.ok(rsync.strategy instanceof RsyncTransfer);
  });

  test("an explicit strategy is kept and checks its address", () => {
    const s3 = new S3Transfer({ endpoint: "http://127.0.0.1:9000" });
    const f = FileTransfer("s3://bucket/key.csv", "key.csv", { strategy: s3 });
    assert.equal(f.strategy, s3);
    refused(() => FileTransfer("s3://bucket-only", "x", { strategy: s3 }), /FileTransfer \(s3\): "s3:\/\/bucket-only" is not an S3 address/);
  });

  test("a user's own strategy works, and one missing upload() is refused", () => {
    const mine: TransferStrategy = { name: "mine", download: async () => {}, upload: async () => {} };
    assert.equal(FileTransfer("anything-mine-understands", "x", { strategy: mine }).strategy, mine);
    refused(() => FileTransfer("a", "b", { strategy: { name: "half", download: async () => {} } as never }), /strategy must be a TransferStrategy .*an object without upload/);
  });

  test("a strategy given by name is refused, with what to write instead", () => {
    refused(() => FileTransfer("https://x.org/a", "a", { strategy: "http" as never }), /strategy must be a TransferStrategy .*new HttpTransfer\(\) from "valence\/transfer".*the string "http" \(strategies are objects, not names\)/);
  });

  test("malformed URLs are refused, the password masked", () => {
    refused(() => FileTransfer("https://user:hunter2@exa mple.org/a", "a"), /FileTransfer \(http\): https:\/\/user:\*\*\*@exa mple\.org\/a is not a URL/);
    refused(() => FileTransfer("http://", "a"), /is not a URL/);
  });

  test("a scheme no built-in strategy reaches is refused; s3:// says to pass an S3Transfer", () => {
    refused(() => FileTransfer("ftp://user:hunter2@host/a", "a"), /no built-in strategy reaches "ftp:\/\/user:\*\*\*@host\/a"; pass \{ strategy \}/);
    refused(() => FileTransfer("s3://bucket/key", "a"), /needs \{ strategy: new S3Transfer\(\{ … \}\) \} from "valence\/transfer"/);
  });

  test("two remote ends, or an order that contradicts which end is remote, are refused", () => {
    refused(() => FileTransfer("https://a.org/x", "https://b.org/x"), /one side must be a path where the task runs/);
    refused(() => FileTransfer("x", "https://user:hunter2@b.org/x", { order: "before" }), /is remote, so the file goes there after the task: use \{ order: "after" \}/);
    refused(() => FileTransfer("https://a.org/x", "x", { order: "after" }), /is remote, so it is fetched before the task: use \{ order: "before" \}/);
    refused(() => FileTransfer("a", "b", { order: "during" as "before" }), /order must be "before" or "after"/);
  });

  test("refused at electron definition: the FileTransfer in files throws before any dispatch", () => {
    refused(() => electron(() => 1, { files: [FileTransfer("s3://b/k", "k")] }), /needs \{ strategy: new S3Transfer/);
  });
});
