import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { resultLine, runLine, sliceResultLine } from "../wire/serve-protocol.js";
import { RunnerSession } from "./runner-session.js";

/** A session over a transport that records what was sent. */
function session() {
  const sent: string[] = [];
  let ended = false;
  const s = new RunnerSession({ write: (text) => sent.push(text), end: () => (ended = true) });
  return { s, sent, ended: () => ended };
}

const RESULT = JSON.stringify({ format: 1, ok: true, value: "[1]", stdout: "", stderr: "", startedAt: "a", endedAt: "b" });

describe("RunnerSession", () => {
  test("matches result lines to tasks, whatever order they come in and however they are split", async () => {
    const { s, sent } = session();
    s.stdout('{"t":"ready","format":1,"pid":4321}\n');
    assert.equal(await s.ready, 4321);
    const a = s.run("bundles/b.mjs", '{"format":1}');
    const b = s.run("bundles/b.mjs", '{"format":1}');
    assert.equal(sent.length, 2);
    assert.equal(sent[0], runLine("0", "bundles/b.mjs", '{"format":1}'));
    const both = resultLine("1", RESULT) + resultLine("0", RESULT.replace("[1]", "[0]"));
    // Split inside a line and inside a multi-byte character.
    const bytes = Buffer.from(both.replace('"stdout":""', '"stdout":"é"'));
    s.stdout(bytes.subarray(0, 30));
    s.stdout(bytes.subarray(30, bytes.indexOf(Buffer.from("é")) + 1));
    s.stdout(bytes.subarray(bytes.indexOf(Buffer.from("é")) + 1));
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(ra.kind, "result");
    assert.equal(rb.kind, "result");
    assert.match(ra.kind === "result" ? ra.resultJson : "", /"value":"\[0\]"/);
    assert.match(rb.kind === "result" ? rb.resultJson : "", /"value":"\[1\]","stdout":"é"/);
    assert.equal(s.inFlight, 0);
  });

  test("when the runner ends, its tasks end with the exit and the end of its stderr", async () => {
    const { s } = session();
    s.stdout('{"t":"ready","format":1,"pid":7}\n');
    const task = s.run("b.mjs", "{}");
    s.stderr("loading…\n");
    s.stdout("a stray line\n");
    s.exited({ code: 3 });
    const outcome = await task;
    assert.equal(outcome.kind, "runner ended");
    assert.ok(outcome.kind === "runner ended");
    assert.equal(outcome.reason, "the task runner ended (exit code 3)");
    assert.match(outcome.stderrTail, /loading…\n\(stdout\) a stray line/);
    assert.deepEqual(await s.done, { code: 3 });
    // A task sent after the end ends at once.
    assert.equal((await s.run("b.mjs", "{}")).kind, "runner ended");
  });

  test("a runner that ends before it is ready rejects `ready` with its stderr", async () => {
    const { s } = session();
    s.stderr("sh: 1: node: not found\n");
    s.exited({ code: 127 });
    await assert.rejects(s.ready, /the task runner ended before it was ready \(exit code 127\); its stderr ends with:\nsh: 1: node: not found/);
  });

  test("a runner of another serve format is refused and its stdin closed", async () => {
    const { s, ended } = session();
    s.stdout('{"t":"ready","format":2,"pid":7}\n');
    await assert.rejects(s.ready, /speaks serve format 2; this valence speaks 1: use the same valence version on both sides/);
    assert.equal(ended(), true);
  });

  test("a result line is sliced without parsing its result, and other lines are not result lines", () => {
    assert.deepEqual(sliceResultLine(resultLine('a"b', '{"x":1}')), { id: 'a"b', resultJson: '{"x":1}' });
    assert.equal(sliceResultLine('{"t":"ready","format":1,"pid":1}'), undefined);
    assert.equal(sliceResultLine("hello"), undefined);
  });
});
