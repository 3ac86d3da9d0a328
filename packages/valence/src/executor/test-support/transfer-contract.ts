/**
 * The contract every FileTransfer strategy passes (the built-in http, rsync
 * and s3 ones, and yours: `transferContract` from `valence/executor/testing`).
 * Transfers go through `runTransfer`, the function the task set-up calls, so
 * what is checked is what a node sees.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { after, before, describe, test } from "node:test";
import { TransferError, TransferSourceMissingError } from "../../errors.js";
import { maskCredentials } from "../transfer/mask.js";
import { runTransfer } from "../transfer/run-transfer.js";
import type { TransferStrategy } from "../transfer/strategy.js";
import { toWireError } from "../wire/wire-error.js";

export interface TransferFixture {
  readonly strategy: TransferStrategy;
  /** A remote address for `name` that nothing has written yet in this run. */
  address(name: string): string;
  /** Every credential the strategy and the addresses hold: none may appear in an error, on stdout or on stderr. */
  readonly secrets: readonly string[];
  /** An address the strategy is refused at for a bad credential (a wrong password), when the strategy has credentials. */
  deniedAddress?(name: string): string;
  /** Stops what the fixture started. */
  close(): Promise<void>;
}

export interface TransferContractOptions {
  /** Size of the file of the streaming test (default 256 MiB). */
  readonly largeBytes?: number;
  /** How far this process's RSS may rise during that transfer (default 96 MiB): well under the file's size. */
  readonly rssBoundBytes?: number;
}

const MiB = 1024 * 1024;
const LIMIT = { timeout: 300_000 };

/**
 * @example
 *   transferContract("http", async () => ({ strategy: new HttpTransfer(), address: (n) => `${base}/${n}`, secrets: [], close }));
 */
export function transferContract(name: string, makeFixture: () => Promise<TransferFixture>, options: TransferContractOptions = {}): void {
  const largeBytes = options.largeBytes ?? 256 * MiB;
  const rssBound = options.rssBoundBytes ?? 96 * MiB;

  describe(`transfer strategy contract: ${name}`, () => {
    let fx: TransferFixture;
    let dir: string;
    let n = 0;
    const fresh = (label: string) => fx.address(`${label}-${process.pid}-${++n}`);

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), `valence-transfer-${name}-`));
      fx = await makeFixture();
    });
    after(async () => {
      await fx?.close();
      await rm(dir, { recursive: true, force: true });
    });

    test("round-trips a file: upload after the task, download before it into a directory not yet made", LIMIT, async () => {
      const bytes = randomBytes(MiB + 17);
      const source = join(dir, "source.bin");
      await writeFile(source, bytes);
      const remote = fresh("round-trip");
      await runTransfer({ from: source, to: remote, order: "after", strategy: fx.strategy });
      const target = join(dir, "fresh", "deeper", "copy.bin");
      await runTransfer({ from: remote, to: target, order: "before", strategy: fx.strategy });
      assert.ok((await readFile(target)).equals(bytes), "the downloaded file differs from the uploaded one");
    });

    test("a second upload to the same address replaces the first", LIMIT, async () => {
      const remote = fresh("replace");
      const source = join(dir, "replace.txt");
      await writeFile(source, "first, and longer than the second");
      await runTransfer({ from: source, to: remote, order: "after", strategy: fx.strategy });
      await writeFile(source, "second");
      await runTransfer({ from: source, to: remote, order: "after", strategy: fx.strategy });
      const target = join(dir, "replaced.txt");
      await runTransfer({ from: remote, to: target, order: "before", strategy: fx.strategy });
      assert.equal(await readFile(target, "utf8"), "second");
    });

    test(`a large file streams both ways: RSS rises by less than ${rssBound / MiB} MiB for a ${largeBytes / MiB} MiB file`, LIMIT, async () => {
      const source = join(dir, "large.bin");
      const digest = await writeLargeFile(source, largeBytes);
      const remote = fresh("large");
      // Warm up first: loading the strategy's modules (the AWS SDK, say) is not growth with the file's size.
      const small = join(dir, "warm.txt");
      await writeFile(small, "warm");
      const warm = fresh("warm");
      await runTransfer({ from: small, to: warm, order: "after", strategy: fx.strategy });
      await runTransfer({ from: warm, to: join(dir, "warm-back.txt"), order: "before", strategy: fx.strategy });

      const up = await peakRssRise(() => runTransfer({ from: source, to: remote, order: "after", strategy: fx.strategy }));
      const target = join(dir, "large-back.bin");
      const down = await peakRssRise(() => runTransfer({ from: remote, to: target, order: "before", strategy: fx.strategy }));
      assert.equal((await stat(target)).size, largeBytes);
      assert.equal(await sha256(target), digest);
      assert.ok(up < rssBound, `upload raised RSS by ${(up / MiB).toFixed(1)} MiB for a ${largeBytes / MiB} MiB file: it does not stream`);
      assert.ok(down < rssBound, `download raised RSS by ${(down / MiB).toFixed(1)} MiB for a ${largeBytes / MiB} MiB file: it does not stream`);
      await rm(source);
      await rm(target);
    });

    test("a missing remote source fails with TransferSourceMissingError naming it, and leaves no target behind", LIMIT, async () => {
      const remote = fresh("never-written");
      const target = join(dir, "missing", "target.bin");
      const error = await rejection(runTransfer({ from: remote, to: target, order: "before", strategy: fx.strategy }));
      assert.ok(error instanceof TransferSourceMissingError, `expected TransferSourceMissingError, got ${inspect(error)}`);
      assert.equal(error.address, maskCredentials(remote));
      assert.ok(error.message.includes(maskCredentials(remote)), `the message does not name ${maskCredentials(remote)}: ${error.message}`);
      assert.equal(error.strategy, fx.strategy.name);
      assert.equal(existsSync(target), false);
    });

    test("a missing local file to upload fails with TransferSourceMissingError naming its path", LIMIT, async () => {
      const source = join(dir, "no-such-file.bin");
      const error = await rejection(runTransfer({ from: source, to: fresh("upload-missing"), order: "after", strategy: fx.strategy }));
      assert.ok(error instanceof TransferSourceMissingError, `expected TransferSourceMissingError, got ${inspect(error)}`);
      assert.ok(error.message.includes(source), error.message);
    });

    test("credentials never appear in an error, its wire form, the strategy's own printout, stdout or stderr", LIMIT, async () => {
      const seen: string[] = [];
      const failures = await capturingOutput(seen, async () => {
        const errors: unknown[] = [];
        errors.push(await rejection(runTransfer({ from: fresh("secret-missing"), to: join(dir, "s.bin"), order: "before", strategy: fx.strategy })));
        if (fx.deniedAddress) {
          const source = join(dir, "denied.txt");
          await writeFile(source, "denied");
          errors.push(await rejection(runTransfer({ from: source, to: fx.deniedAddress("denied-up"), order: "after", strategy: fx.strategy })));
          errors.push(await rejection(runTransfer({ from: fx.deniedAddress("denied-down"), to: join(dir, "d.bin"), order: "before", strategy: fx.strategy })));
        }
        return errors;
      });
      for (const error of failures) {
        assert.ok(error instanceof TransferError, `expected a TransferError, got ${inspect(error)}`);
        seen.push(error.message, error.stack ?? "", error.address, JSON.stringify(toWireError(error)), inspect(error, { depth: 5 }));
      }
      seen.push(inspect(fx.strategy, { depth: 5, showHidden: true }), JSON.stringify(fx.strategy) ?? "");
      for (const secret of fx.secrets) {
        for (const text of seen) assert.ok(!text.includes(secret), `a credential leaked into: ${text.split(secret).join("<SECRET>")}`);
      }
    });
  });
}

/** A file of `bytes` (a random MiB repeated, so it does not compress to nothing); its sha256. */
async function writeLargeFile(path: string, bytes: number): Promise<string> {
  const chunk = randomBytes(MiB);
  const hash = createHash("sha256");
  const file = await open(path, "w");
  try {
    for (let written = 0; written < bytes; written += chunk.length) {
      const piece = chunk.subarray(0, Math.min(chunk.length, bytes - written));
      await file.write(piece);
      hash.update(piece);
    }
  } finally {
    await file.close();
  }
  return hash.digest("hex");
}

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  const file = await open(path);
  try {
    for await (const chunk of file.createReadStream()) hash.update(chunk as Buffer);
  } finally {
    await file.close();
  }
  return hash.digest("hex");
}

/** The highest RSS seen while `run` ran, minus the RSS before it: sampled on every turn of the event loop the transfer yields. */
async function peakRssRise(run: () => Promise<void>): Promise<number> {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
  try {
    await run();
  } finally {
    clearInterval(sample);
  }
  return Math.max(peak, process.memoryUsage.rss()) - baseline;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("the transfer was expected to fail, and it succeeded");
}

/** Runs `body` with everything written to stdout and stderr also kept in `seen`. */
async function capturingOutput<T>(seen: string[], body: () => Promise<T>): Promise<T> {
  const streams = [process.stdout, process.stderr] as const;
  const originals = streams.map((s) => s.write);
  streams.forEach((stream, i) => {
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      seen.push(String(chunk));
      return (originals[i] as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as typeof stream.write;
  });
  try {
    return await body();
  } finally {
    streams.forEach((stream, i) => (stream.write = originals[i]!));
  }
}
