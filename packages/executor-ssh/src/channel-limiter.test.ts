import assert from "node:assert/strict";
import { test } from "node:test";
import { ChannelLimiter } from "./channel-limiter.js";

const tick = () => new Promise((r) => setImmediate(r));

test("long channels take only their share; short commands still get through", async () => {
  const limiter = new ChannelLimiter(4, 2);
  const long = [await limiter.acquire("long"), await limiter.acquire("long")];
  let third = false;
  void limiter.acquire("long").then(() => (third = true));
  const short = await limiter.acquire("short");
  await limiter.acquire("short");
  await tick();
  assert.equal(third, false);
  assert.equal(limiter.open, 4);
  let fifth = false;
  void limiter.acquire("short").then(() => (fifth = true));
  await tick();
  assert.equal(fifth, false, "capacity is the hard limit");
  short();
  await tick();
  assert.equal(fifth, true, "a freed channel goes to the short command, which fits, not the waiting task");
  assert.equal(third, false);
  long[0]?.();
  await tick();
  assert.equal(third, true);
  assert.equal(limiter.maxInUse, 4);
});

test("an abort while waiting rejects with the reason and frees the place in line", async () => {
  const limiter = new ChannelLimiter(1, 1);
  const release = await limiter.acquire("long");
  const controller = new AbortController();
  const waiting = limiter.acquire("long", controller.signal);
  controller.abort(new Error("gave up"));
  await assert.rejects(waiting, /gave up/);
  release();
  const again = await limiter.acquire("long");
  assert.equal(limiter.open, 1);
  again();
  again();
  assert.equal(limiter.open, 0, "releasing twice releases once");
});
