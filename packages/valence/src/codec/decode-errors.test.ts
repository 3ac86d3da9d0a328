import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DecodeError } from "../errors.js";
import { decode, encode } from "./index.js";

function assertDecodeError(text: unknown, message: string | RegExp): void {
  assert.throws(
    () => decode(text as string),
    (error: unknown) => {
      assert.ok(error instanceof DecodeError, `expected DecodeError, got ${String(error)}`);
      assert.equal(error.code, "DECODE_ERROR");
      if (typeof message === "string") assert.equal(error.message, message);
      else assert.match(error.message, message);
      return true;
    },
  );
}

/** A tagged text whose body is `body`, as JSON. */
const tagged = (body: unknown): string => `~v1:${JSON.stringify(body)}`;
const BAD = "malformed encoded value: ";

describe("codec decode errors", () => {
  it("refuses input that is not a string", () => {
    assertDecodeError(undefined, "cannot decode a value of type undefined; expected the string that encode() returned");
    assertDecodeError(Buffer.from("1"), "cannot decode a value of type object; expected the string that encode() returned");
  });

  it("refuses truncated or corrupt JSON, plain or tagged", () => {
    assertDecodeError("", /^malformed encoded value: not valid JSON \(Unexpected end of JSON input\)$/);
    assertDecodeError('{"a":', /^malformed encoded value: not valid JSON \(/);
    assertDecodeError(encode(1n).slice(0, -1), /^malformed encoded value: not valid JSON \(/);
  });

  it("refuses a format version it does not know", () => {
    assertDecodeError('~v2:["u"]', 'cannot decode: unknown format "~v2:" (expected "~v1:"; written by a newer Valence?)');
    assertDecodeError("~", 'cannot decode: unknown format "~" (expected "~v1:"; written by a newer Valence?)');
  });

  it("refuses unknown tags, including a hole run outside an array", () => {
    assertDecodeError(tagged(["zz"]), `${BAD}unknown tag "zz"`);
    assertDecodeError(tagged([]), `${BAD}unknown tag undefined`);
    assertDecodeError(tagged({ a: ["h", 1] }), `${BAD}unknown tag "h"`);
  });

  it("refuses bad numbers and bigints", () => {
    assertDecodeError(tagged(["n", "1e999"]), `${BAD}unknown special number "1e999"`);
    assertDecodeError(tagged(["b", "1.5"]), `${BAD}bigint is not an integer`);
    assertDecodeError(tagged(["b", 12]), `${BAD}bigint is not an integer`);
  });

  it("refuses references to objects that do not exist yet", () => {
    assertDecodeError(tagged(["r", 0]), `${BAD}reference 0 points at no earlier object`);
    assertDecodeError(tagged(["A", ["r", 1]]), `${BAD}reference 1 points at no earlier object`);
    assertDecodeError(tagged(["A", ["r", -1]]), `${BAD}reference -1 points at no earlier object`);
    assertDecodeError(tagged(["A", ["r", "0"]]), `${BAD}reference "0" points at no earlier object`);
  });

  it("refuses bad runs of array holes", () => {
    for (const count of [0, 1.5, "2", 2 ** 32]) {
      assertDecodeError(tagged(["A", ["h", count]]), `${BAD}bad run of array holes`);
    }
  });

  it("refuses containers with the wrong shape", () => {
    assertDecodeError(tagged(["N", [1]]), `${BAD}object are not a JSON object`);
    assertDecodeError(tagged(["M", "key"]), `${BAD}map has a key without a value`);
    assertDecodeError(tagged(["D", "2024-01-01"]), `${BAD}date time is not a number`);
  });

  it("refuses bad regexps", () => {
    assertDecodeError(tagged(["R", 1, "g"]), `${BAD}regexp source or flags are not strings`);
    assertDecodeError(tagged(["R", "a", "g", -1]), `${BAD}regexp lastIndex is not a non-negative integer`);
    assertDecodeError(tagged(["R", "(", ""]), /^malformed encoded value: invalid regexp \(Invalid regular expression/);
    assertDecodeError(tagged(["R", "a", "qq"]), /^malformed encoded value: invalid regexp \(Invalid flags/);
  });

  it("refuses bad errors", () => {
    assertDecodeError(tagged(["E", "HttpError", {}, {}]), `${BAD}unknown error class "HttpError"`);
    assertDecodeError(tagged(["E", "toString", {}, {}]), `${BAD}unknown error class "toString"`);
    assertDecodeError(tagged(["E", "Error", null, {}]), `${BAD}error fields are not a JSON object`);
    assertDecodeError(tagged(["E", "Error", {}, []]), `${BAD}error properties are not a JSON object`);
    assertDecodeError(tagged(["E", "Error", { secret: 1 }, {}]), `${BAD}unexpected error field "secret"`);
  });

  it("refuses binary data that is not base64", () => {
    const notBase64 = `${BAD}binary data is not valid base64`;
    for (const body of [["B", "a*=="], ["B", "abc"], ["B", "a==="], ["AB", 12], ["DV", "ab=c"], ["T", "Uint8Array", "@@@@"]]) {
      assertDecodeError(tagged(body), notBase64);
    }
  });

  it("refuses typed arrays with an unknown kind or a ragged length", () => {
    assertDecodeError(tagged(["T", "Float16Array", ""]), `${BAD}unknown typed array "Float16Array"`);
    assertDecodeError(tagged(["T", "constructor", ""]), `${BAD}unknown typed array "constructor"`);
    assertDecodeError(tagged(["T", "Int32Array", "AQID"]), `${BAD}Int32Array byte length 3 is not a multiple of 4`);
  });

  it("refuses tagged values nested too deeply, instead of overflowing the stack", () => {
    const depth = 200_000;
    const text = `~v1:${'["A",'.repeat(depth)}["A"]${"]".repeat(depth)}`;
    assertDecodeError(text, /^cannot decode: the value is nested too deeply \(Maximum call stack size exceeded\)$/);
  });
});
