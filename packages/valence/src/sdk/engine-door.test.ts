// The SDK's door to the engine, alone: this file never imports the package entry, so nothing has set the opener.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NoDispatcherError, sdkDispatcher, setDispatcherOpener, type SdkDispatcher } from "./engine-door.js";

describe("engine door", () => {
  it("without the package entry, dispatching fails with NoDispatcherError saying what to import", async () => {
    await assert.rejects(sdkDispatcher(), (e: unknown) => e instanceof NoDispatcherError && /import the SDK from "valence"/.test(e.message));
  });

  it("opens once, shares the dispatcher, tries again after a failed open, and keeps the first opener", async () => {
    const fake = { submit: async () => "dsp_x" } as unknown as SdkDispatcher;
    let opens = 0;
    setDispatcherOpener(async () => {
      opens++;
      if (opens === 1) throw new Error("server unreachable");
      return fake;
    });
    setDispatcherOpener(async () => assert.fail("a second opener must not replace the first"));
    await assert.rejects(sdkDispatcher(), /server unreachable/);
    assert.equal(await sdkDispatcher(), fake);
    assert.equal(await sdkDispatcher(), fake);
    assert.equal(opens, 2);
  });
});
