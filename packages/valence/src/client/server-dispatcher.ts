/**
 * Dispatching to a server: the lattice is traced and its values encoded
 * here (a bad argument is refused before anything is sent), the code is
 * bundled here and uploaded once per content hash, and the server stores
 * and runs the rest. The client may exit as soon as `submit` resolves.
 */
import { createHash } from "node:crypto";
import { basename } from "node:path";
import { BLOB_THRESHOLD_BYTES } from "../api/wire.js";
import { ServerRequestError, TriggerSpecError } from "../errors.js";
import type { DispatchId, TriggerId } from "../ids.js";
import type { TriggerSpec } from "../sdk/trigger-spec.js";
import { arityOf } from "../sdk/arity.js";
import { latticeCall, type LatticeInfo } from "../sdk/lattice.js";
import type { Result } from "../sdk/result.js";
import type { DispatchSummary, SubmitBody } from "../api/wire.js";
import { bundleEntry } from "../engine/bundle/bundler.js";
import type { EffectiveConfig } from "../engine/config/index.js";
import type { Dispatcher } from "./dispatcher-contract.js";
import type { GetResultOptions, RedispatchOptions } from "../sdk/engine-door.js";
import type { ExecutorRegistry } from "../engine/plugins/registry.js";
import { ExecutorResolver } from "../engine/plugins/executor-resolver.js";
import { resultFromRecords } from "../engine/read-result.js";
import { prepareSubmission } from "../engine/submit.js";
import type { Executor } from "../executor/executor.js";
import type { ExecutorRef } from "../sdk/graph.js";
import { join } from "node:path";
import type { ServerClient } from "./server-client.js";
import type { TaskOutput } from "../engine/task-output.js";
import { replacementsOf } from "./replacements.js";

/** What a trigger's template is traced with: the server puts each fire's argument in its place. */
const TRIGGER_ARGUMENT = "<the fire's argument>";

export class ServerDispatcher implements Dispatcher {
  private readonly executors: ExecutorResolver;
  /**
   * Bundles this process knows the server has (it uploaded or found them): a warm dispatch
   * skips the HEAD round trip. A server that lost one answers BUNDLE_MISSING, and the
   * dispatch uploads it and is sent once more.
   */
  private readonly bundlesOnServer = new Set<string>();

  constructor(
    readonly client: ServerClient,
    private readonly config: EffectiveConfig,
    registry: ExecutorRegistry,
  ) {
    this.executors = new ExecutorResolver(registry, config.defaultExecutor.value);
  }

  async submit(info: LatticeInfo, args: readonly unknown[]): Promise<DispatchId> {
    const { body, bundlePath } = await this.bodyOf(info, args);
    return this.sendWithBundle(body.bundleHash, bundlePath, () => this.client.submit(body));
  }

  /**
   * Registers a trigger: the dispatch each fire makes is traced here, like a dispatch's, as the
   * lattice called as a sublattice of one parameter (the fire's argument, set by the server at
   * each fire) or of none; its bundle is uploaded. The lattice itself is traced at each fire, in
   * a runner, from that bundle.
   */
  async trigger(info: LatticeInfo, spec: TriggerSpec): Promise<TriggerId> {
    const arity = arityOf(info.fn);
    if (arity.required > 1) {
      throw new TriggerSpecError(
        "lattice",
        `lattice "${info.name}" needs ${arity.required} arguments (${arity.names.join(", ")}); a trigger calls it with one, the file's path (watch) or the tick's time as an ISO string (every, cron), or with none`,
      );
    }
    // Loaded here, not with the dispatcher: croner is for registering triggers, not for every dispatch's start.
    const { normalizeSpec } = await import("../engine/triggers/trigger-spec.js");
    const normalized = normalizeSpec(spec, process.cwd());
    const withArg = arity.max >= 1;
    const call = latticeCall(info);
    const wrapper: LatticeInfo = {
      ...info,
      fn: (withArg ? (arg: unknown) => call(arg) : () => call()) as LatticeInfo["fn"],
      options: {},
      defaultRetry: undefined,
    };
    const { body, bundlePath } = await this.bodyOf(wrapper, withArg ? [TRIGGER_ARGUMENT] : []);
    const wire = normalized.kind === "watch" ? { watch: normalized.spec } : normalized.kind === "every" ? { every: normalized.spec } : { cron: normalized.spec, ...(normalized.timezone ? { timezone: normalized.timezone } : {}) };
    const reply = await this.sendWithBundle(body.bundleHash, bundlePath, () =>
      this.client.addTrigger({ spec: wire, latticeName: info.name, latticeId: info.id, withArg, template: body }),
    );
    return reply.trigger.id as TriggerId;
  }

  /** The lattice call traced, checked and encoded here, its bundle made: the body of `POST /dispatches`. */
  private async bodyOf(info: LatticeInfo, args: readonly unknown[]): Promise<{ body: SubmitBody; bundlePath: string | undefined }> {
    const s = await prepareSubmission(
      {
        dataDir: this.config.dataDir.value,
        alwaysBundle: true,
        defaultRetry: this.config.retry.value,
        resolveExecutor: (ref) => this.resolveExecutor(ref),
        bundle: async (entry) => (await bundleEntry(entry, join(this.config.dataDir.value, "bundles"))).path,
      },
      info,
      args,
      undefined,
    );
    let bundleHash: string | null = null;
    if (s.bundlePath) {
      bundleHash = basename(s.bundlePath, ".mjs");
      await this.ensureBundle(bundleHash, s.bundlePath, false);
    }
    const inputs = await this.maybeBlob(s.inputs);
    const nodes = [];
    for (const n of s.nodeRecords) {
      const output = n.output === null ? { output: null } : await this.maybeBlob(n.output);
      nodes.push({
        nodeId: n.nodeId,
        kind: n.kind,
        name: n.name,
        electronId: n.electronId,
        executor: n.executor,
        retries: n.retries,
        ...(n.retryPolicy !== null && { retryPolicy: n.retryPolicy }),
        ...(n.cachePolicy && { cachePolicy: n.cachePolicy }),
        timeoutMs: n.timeoutMs,
        key: n.key,
        holes: n.holes,
        value: n.value,
        output: output.text ?? null,
        ...(output.blob ? { outputBlob: output.blob } : {}),
      });
    }
    const body: SubmitBody = {
      name: info.name,
      latticeId: info.id,
      entryFile: info.file ?? null,
      cwd: process.cwd(),
      inputs: inputs.text ?? "",
      ...(inputs.blob ? { inputsBlob: inputs.blob } : {}),
      outputTemplate: s.outputTemplate,
      bundleHash,
      nodes,
      edges: s.edgeRecords,
      sources: s.sources,
    };
    return { body, bundlePath: s.bundlePath };
  }

  /** `send`; a server that lost the bundle (BUNDLE_MISSING) has it uploaded again, and `send` goes once more. */
  private async sendWithBundle<T>(bundleHash: string | null, bundlePath: string | undefined, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (!(error instanceof ServerRequestError && error.serverCode === "BUNDLE_MISSING" && bundleHash && bundlePath)) throw error;
      await this.ensureBundle(bundleHash, bundlePath, true);
      return send();
    }
  }

  /** Uploads the bundle unless the server has it; `recheck` forgets what this process believed. */
  private async ensureBundle(hash: string, file: string, recheck: boolean): Promise<void> {
    if (recheck) this.bundlesOnServer.delete(hash);
    if (this.bundlesOnServer.has(hash)) return;
    if (!(await this.client.hasBundle(hash))) await this.client.uploadBundle(hash, file);
    this.bundlesOnServer.add(hash);
  }

  /** Small values travel in the JSON; large ones are uploaded first, as a stream, once per content. */
  private async maybeBlob(text: string): Promise<{ text?: string; blob?: string; output?: null }> {
    if (text.length <= BLOB_THRESHOLD_BYTES) return { text };
    const data = Buffer.from(text, "utf8");
    const hash = createHash("sha256").update(data).digest("hex");
    if (!(await this.client.hasBlob(hash))) await this.client.uploadBlob(hash, data);
    return { blob: hash };
  }

  async getResult<T>(id: DispatchId, opts: GetResultOptions = {}): Promise<Result<T>> {
    const reply = await this.client.result(id, { wait: opts.wait ?? false, statusOnly: opts.statusOnly ?? false });
    return resultFromRecords<T>(reply.dispatch, () => reply.nodes, undefined, opts.statusOnly);
  }

  async cancel(id: DispatchId, nodes?: readonly number[]): Promise<void> {
    await this.client.cancel(id, nodes);
  }

  async redispatch(id: DispatchId, opts: RedispatchOptions): Promise<DispatchId> {
    const local = await replacementsOf(
      opts,
      (ref) => this.resolveExecutor(ref),
      async (file) => (await bundleEntry(file, join(this.config.dataDir.value, "bundles"))).path,
    );
    const replaceElectrons = [];
    for (const r of local) {
      let bundleHash: string | null = null;
      if (r.bundlePath) {
        bundleHash = basename(r.bundlePath, ".mjs");
        if (!(await this.client.hasBundle(bundleHash))) await this.client.uploadBundle(bundleHash, r.bundlePath);
      }
      replaceElectrons.push({ name: r.name, electronId: r.electronId, executor: r.executor, bundleHash, ...(r.source ? { source: r.source } : {}) });
    }
    return this.client.redispatch(id, { reusePreviousResults: opts.reusePreviousResults ?? false, replaceElectrons });
  }

  async list(limit: number): Promise<readonly DispatchSummary[]> {
    return (await this.client.list(limit)).dispatches;
  }

  taskOutput(id: DispatchId, node: number, after = 0): Promise<TaskOutput> {
    return this.client.taskOutput(id, node, after);
  }

  get where(): string {
    return this.client.url;
  }

  /** Names resolve here, with this process's config: the stored spec carries the options the user meant. */
  private resolveExecutor(ref: ExecutorRef | undefined): Promise<Executor> {
    return this.executors.resolve(ref);
  }
}
