// HttpTransfer against a real HTTP server on loopback: the strategy contract, plus what is HTTP's own.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { TransferError } from "../../errors.js";
import { transferContract } from "../testing.js";
import { HttpTransfer } from "./http-transfer.js";
import { runTransfer } from "./run-transfer.js";
import { startFileServer } from "./test-support/file-server.js";

const USER = "valence";
const PASSWORD = `pw-${process.pid}-Zq8`;
const WRONG = `wrong-${process.pid}-Yx7`;

async function serve() {
  const root = await mkdtemp(join(tmpdir(), "valence-http-"));
  const server = await startFileServer(root, USER, PASSWORD);
  const base = server.url.replace("http://", `http://${USER}:${PASSWORD}@`);
  return { root, server, base, close: async () => (await server.close(), await rm(root, { recursive: true, force: true })) };
}

transferContract("http", async () => {
  const s = await serve();
  return {
    strategy: new HttpTransfer(),
    address: (name) => `${s.base}/files/${name}`,
    deniedAddress: (name) => `${s.server.url.replace("http://", `http://${USER}:${WRONG}@`)}/files/${name}`,
    secrets: [PASSWORD, WRONG],
    close: s.close,
  };
});

describe("HttpTransfer", () => {
  test("a refused request fails with a TransferError carrying the status and the masked URL", async () => {
    const s = await serve();
    try {
      const denied = `${s.server.url.replace("http://", `http://${USER}:${WRONG}@`)}/files/x`;
      const error = await runTransfer({ from: denied, to: join(s.root, "x"), order: "before", strategy: new HttpTransfer() }).catch((e: unknown) => e);
      assert.ok(error instanceof TransferError);
      assert.match(error.message, /answered 401 Unauthorized/);
      assert.ok(error.message.includes(`${USER}:***@127.0.0.1`), error.message);
    } finally {
      await s.close();
    }
  });

  test("headers are sent (a bearer token works in place of user:password) and their credential values are masked", async () => {
    const s = await serve();
    try {
      const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
      const strategy = new HttpTransfer({ headers: { authorization: basic } });
      const source = join(s.root, "h.txt");
      await writeFile(source, "with a header");
      await runTransfer({ from: source, to: `${s.server.url}/files/h-up.txt`, order: "after", strategy });
      assert.deepEqual(strategy.secrets(), [basic]);
      const error = await runTransfer({ from: `${s.server.url}/files/none`, to: join(s.root, "n"), order: "before", strategy }).catch((e: unknown) => e);
      assert.ok(error instanceof TransferError && !error.message.includes(basic));
    } finally {
      await s.close();
    }
  });

  test("uploadMethod POST is used for uploads; a bad uploadMethod is refused", async () => {
    const s = await serve();
    try {
      const source = join(s.root, "p.txt");
      await writeFile(source, "posted");
      await runTransfer({ from: source, to: `${s.base}/files/p.txt`, order: "after", strategy: new HttpTransfer({ uploadMethod: "POST" }) });
      assert.equal(s.server.requests.get("POST"), 1);
      assert.throws(() => new HttpTransfer({ uploadMethod: "PATCH" as "PUT" }), /uploadMethod must be "PUT" or "POST"/);
    } finally {
      await s.close();
    }
  });

  test("an unreachable server fails with the reason underneath, not just 'fetch failed'", async () => {
    const s = await serve();
    const url = `${s.base}/files/x`;
    await s.close();
    const error = await runTransfer({ from: url, to: join(tmpdir(), `never-${process.pid}`), order: "before", strategy: new HttpTransfer() }).catch((e: unknown) => e);
    assert.ok(error instanceof TransferError);
    assert.match(error.message, /ECONNREFUSED/);
    assert.ok(!error.message.includes(PASSWORD));
  });
});
