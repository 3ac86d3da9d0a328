import assert from "node:assert/strict";
import { Socket } from "node:net";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { runInNewContext } from "node:vm";
import { UnsendableValueError } from "../errors.js";
import { encode } from "./index.js";

function assertRefused(value: unknown, path: string, reason: string, root?: string): void {
  assert.throws(
    () => (root === undefined ? encode(value) : encode(value, root)),
    (error: unknown) => {
      assert.ok(error instanceof UnsendableValueError, `expected UnsendableValueError, got ${String(error)}`);
      assert.equal(error.code, "UNSENDABLE_VALUE");
      assert.equal(error.path, path);
      assert.equal(error.reason, reason);
      assert.equal(error.message, `${path}: ${reason}`);
      return true;
    },
  );
}

const FUNCTION = "functions cannot be sent to a task";

class Foo {
  x = 1;
}

describe("codec refusals: what cannot be sent", () => {
  it("refuses functions, at the root and nested, naming the path from the given root", () => {
    assertRefused(() => 1, "value", FUNCTION);
    assertRefused([1, { config: { handler() {} } }], "args[1].config.handler", FUNCTION, "args");
    assertRefused(class Bar {}, "value", FUNCTION);
  });

  it("refuses symbols", () => {
    assertRefused({ tag: Symbol("t") }, "value.tag", "symbols cannot be sent to a task");
  });

  it("refuses class instances, naming the class", () => {
    assertRefused({ a: [new Foo()] }, "value.a[0]", "instances of class Foo cannot be sent to a task; pass a plain object");
    const Anonymous = (() => class {})();
    assertRefused(new Anonymous(), "value", "instances of an anonymous class cannot be sent to a task; pass a plain object");
    assertRefused(new String("boxed"), "value", "instances of class String cannot be sent to a task; pass a plain object");
  });

  it("refuses objects built on another object's prototype", () => {
    assertRefused(Object.create({ inherited: 1 }), "value", "objects with a custom prototype cannot be sent to a task; pass a plain object");
  });

  it("refuses objects from another realm, whose prototypes are not this realm's", () => {
    assertRefused(
      { fromVm: runInNewContext("({ a: 1 })") },
      "value.fromVm",
      "objects with a custom prototype cannot be sent to a task; pass a plain object",
    );
  });

  it("refuses subclasses of the built-ins it supports", () => {
    class Registry extends Map {}
    class List extends Array {}
    class Bytes extends Uint8Array {}
    assertRefused(new Registry(), "value", "instances of class Registry cannot be sent to a task; pass a plain object");
    assertRefused(List.from([1]), "value", "instances of class List cannot be sent to a task; pass a plain object");
    assertRefused(new Bytes(1), "value", "instances of class Bytes cannot be sent to a task; pass a plain object");
  });

  it("refuses Error subclasses, suggesting a plain Error", () => {
    class HttpError extends Error {}
    assertRefused(
      { failure: new HttpError("x") },
      "value.failure",
      "instances of class HttpError cannot be sent to a task; send a plain Error (set its name, message and code) or a plain object",
    );
    const AnonymousError = (() => class extends Error {})();
    assertRefused(
      new AnonymousError(),
      "value",
      "instances of class (anonymous) cannot be sent to a task; send a plain Error (set its name, message and code) or a plain object",
    );
  });

  it("refuses weak collections, promises and shared memory with a hint", () => {
    assertRefused(new WeakMap(), "value", "a WeakMap cannot be sent to a task (its entries cannot be read); use a Map");
    assertRefused(new WeakSet(), "value", "a WeakSet cannot be sent to a task (its items cannot be read); use a Set");
    assertRefused(new WeakRef({}), "value", "a WeakRef cannot be sent to a task; send the object it refers to");
    assertRefused([Promise.resolve(1)], "value[0]", "a Promise cannot be sent to a task; await it and send its result");
    assertRefused(
      new SharedArrayBuffer(8),
      "value",
      "a SharedArrayBuffer cannot be sent to a task (memory cannot be shared across processes); copy it into an ArrayBuffer",
    );
  });

  it("refuses sockets and streams as class instances", () => {
    const socket = new Socket();
    try {
      assertRefused({ io: { socket } }, "value.io.socket", "instances of class Socket cannot be sent to a task; pass a plain object");
    } finally {
      socket.destroy();
    }
    assertRefused({ stream: new PassThrough() }, "value.stream", "instances of class PassThrough cannot be sent to a task; pass a plain object");
  });

  it("refuses values nested too deeply to walk, instead of overflowing the stack", () => {
    let deep: unknown[] = [];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    assert.throws(
      () => encode(deep, "args"),
      (error: unknown) =>
        error instanceof UnsendableValueError &&
        error.path === "args" &&
        error.reason.startsWith("cannot be encoded: it is nested too deeply or is too large (Maximum call stack size exceeded"),
    );
  });

  it("reports the first unsendable value in document order", () => {
    assertRefused({ a: 1, b: () => 1, c: Symbol("c") }, "value.b", FUNCTION);
  });
});

describe("codec refusals: path syntax", () => {
  it("writes identifier keys with a dot and other keys in brackets", () => {
    assertRefused({ $ok_1: { "a b": { "0": { "": { "é": () => 1 } } } } }, 'value.$ok_1["a b"]["0"][""]["é"]', FUNCTION);
  });

  it("counts array indexes across holes", () => {
    assertRefused([1, , , () => 1], "value[3]", FUNCTION);
  });

  it("names Map values by printable key, and Map keys by position", () => {
    assertRefused(new Map([["k", () => 1]]), 'value.get("k")', FUNCTION);
    assertRefused(new Map<unknown, unknown>([[1, 0], [2, () => 1]]), "value.get(2)", FUNCTION);
    assertRefused(new Map([[5n, () => 1]]), "value.get(5n)", FUNCTION);
    assertRefused(new Map([[null, () => 1]]), "value.get(null)", FUNCTION);
    assertRefused(new Map([[undefined, () => 1]]), "value.get(undefined)", FUNCTION);
    assertRefused(new Map<unknown, unknown>([["a", 1], [() => 1, 2]]), "value.keys()[1]", FUNCTION);
    assertRefused(new Map<unknown, unknown>([[{}, 1], [{ k: 1 }, () => 1]]), "value.values()[1]", FUNCTION);
  });

  it("names Set items by position", () => {
    assertRefused(new Set([1, 2, () => 1]), "value.values()[2]", FUNCTION);
  });

  it("walks into null-prototype objects and Error fields", () => {
    const bare = Object.assign(Object.create(null) as object, { f: () => 1 });
    assertRefused({ bare }, "value.bare.f", FUNCTION);
    assertRefused(new Error("x", { cause: { f: () => 1 } }), "value.cause.f", FUNCTION);
    assertRefused(Object.assign(new Error("x"), { code: () => 1 }), "value.code", FUNCTION);
    assertRefused(new AggregateError([1, () => 1]), "value.errors[1]", FUNCTION);
  });
});
