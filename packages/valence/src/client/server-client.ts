/**
 * A typed client of the server's HTTP API, on Node's own `fetch`. A server
 * that does not answer is a `ServerUnreachableError` that says how to start
 * one or how to run embedded; a refusal is a `ServerRequestError` carrying
 * the server's own message.
 */
import { createReadStream, statSync } from "node:fs";
import { Readable } from "node:stream";
import {
  API_PREFIX,
  type ErrorReply,
  type HealthReply,
  type ListReply,
  type RedispatchBody,
  type ResultReply,
  type SubmitBody,
  type SubmitReply,
  type TriggerBody,
  type TriggerListReply,
  type TriggerReply,
} from "../api/wire.js";
import { ServerRequestError, ServerUnreachableError } from "../errors.js";
import type { DispatchId } from "../ids.js";
import { isTerminal } from "../status.js";
import type { RunChange } from "../engine/run/run-types.js";
import type { TaskOutput } from "../engine/task-output.js";

export interface ServerEvent {
  readonly event: string;
  readonly data: unknown;
}

export class ServerClient {
  readonly url: string;

  constructor(
    url: string,
    private readonly token?: string,
  ) {
    this.url = url.replace(/\/+$/, "");
  }

  health(): Promise<HealthReply> {
    return this.json("GET", "/health");
  }

  async hasBundle(hash: string): Promise<boolean> {
    const res = await this.fetch("HEAD", `/bundles/${hash}`);
    return res.status === 200;
  }

  async uploadBundle(hash: string, file: string): Promise<void> {
    const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
    await this.check(await this.fetch("PUT", `/bundles/${hash}`, { body, headers: { "content-length": String(statSync(file).size) } }));
  }

  async hasBlob(hash: string): Promise<boolean> {
    const res = await this.fetch("HEAD", `/blobs/${hash}`);
    return res.status === 200;
  }

  /** Streams a large encoded value to the server, by its content hash. */
  async uploadBlob(hash: string, data: Buffer): Promise<void> {
    const body = Readable.toWeb(Readable.from([data])) as ReadableStream<Uint8Array>;
    await this.check(await this.fetch("PUT", `/blobs/${hash}`, { body, headers: { "content-length": String(data.length) } }));
  }

  async submit(body: SubmitBody): Promise<DispatchId> {
    return ((await this.json("POST", "/dispatches", body)) as SubmitReply).dispatchId as DispatchId;
  }

  /** The dispatch's records; with `wait`, long-polls until it has ended. */
  async result(id: string, opts: { wait?: boolean; statusOnly?: boolean } = {}): Promise<ResultReply> {
    const q = `?wait=${opts.wait ? "true" : "false"}&statusOnly=${opts.statusOnly ? "true" : "false"}`;
    for (;;) {
      const reply = (await this.json("GET", `/dispatches/${encodeURIComponent(id)}/result${q}`)) as ResultReply;
      if (!opts.wait || isTerminal(reply.dispatch.status)) return reply;
    }
  }

  cancel(id: string, nodes?: readonly number[]): Promise<{ cancelled: boolean; status: string }> {
    return this.json("POST", `/dispatches/${encodeURIComponent(id)}/cancel`, nodes ? { nodes } : {});
  }

  async redispatch(id: string, body: RedispatchBody): Promise<DispatchId> {
    return ((await this.json("POST", `/dispatches/${encodeURIComponent(id)}/redispatch`, body)) as SubmitReply).dispatchId as DispatchId;
  }

  taskOutput(id: string, node: number, after = 0): Promise<TaskOutput> {
    return this.json("GET", `/dispatches/${encodeURIComponent(id)}/nodes/${node}/output?after=${after}`);
  }

  list(limit = 50): Promise<ListReply> {
    return this.json("GET", `/dispatches?limit=${limit}`);
  }

  addTrigger(body: TriggerBody): Promise<TriggerReply> {
    return this.json("POST", "/triggers", body);
  }

  triggers(): Promise<TriggerListReply> {
    return this.json("GET", "/triggers");
  }

  trigger(id: string, limit = 50): Promise<TriggerReply> {
    return this.json("GET", `/triggers/${encodeURIComponent(id)}?limit=${limit}`);
  }

  /** Pauses (true) or resumes (false) a trigger. */
  pauseTrigger(id: string, paused: boolean): Promise<TriggerReply> {
    return this.json("POST", `/triggers/${encodeURIComponent(id)}/${paused ? "pause" : "resume"}`, {});
  }

  removeTrigger(id: string): Promise<{ removed: string }> {
    return this.json("DELETE", `/triggers/${encodeURIComponent(id)}`);
  }

  /** Follows a dispatch's live events until it ends (or `signal` aborts). */
  async events(id: string, onEvent: (e: ServerEvent) => void, signal?: AbortSignal): Promise<void> {
    const res = await this.check(await this.fetch("GET", `/dispatches/${encodeURIComponent(id)}/events`, { signal }));
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const parsed = parseSse(block);
        if (parsed) onEvent(parsed);
      }
    }
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init = body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } };
    const res = await this.check(await this.fetch(method, path, init));
    return (await res.json()) as T;
  }

  private async fetch(
    method: string,
    path: string,
    init: { body?: BodyInit; headers?: Record<string, string>; signal?: AbortSignal | undefined } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.token) headers["authorization"] = `Bearer ${this.token}`;
    const send = () =>
      fetch(`${this.url}${API_PREFIX}${path}`, {
        method,
        headers,
        body: init.body ?? null,
        signal: init.signal ?? null,
        // A streamed upload body needs this in Node's fetch.
        ...(init.body instanceof ReadableStream ? { duplex: "half" } : {}),
      } as RequestInit);
    try {
      try {
        return await send();
      } catch (error) {
        // A kept-alive connection the server had closed (after refusing an upload midway, say):
        // a read may go again on a fresh one. A write may not: it could have been applied.
        const code = (error as { cause?: { code?: string } }).cause?.code;
        if ((method !== "GET" && method !== "HEAD") || !(code === "UND_ERR_SOCKET" || code === "ECONNRESET")) throw error;
        return await send();
      }
    } catch (error) {
      if ((error as Error).name === "AbortError") throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new ServerUnreachableError(
        `no Valence server answers at ${this.url} (${cause?.code ?? cause?.message ?? (error as Error).message}): ` +
          "start one with `valence start`, or set VALENCE_SERVER=embedded to run dispatches in this process",
        { cause: error },
      );
    }
  }

  private async check(res: Response): Promise<Response> {
    if (res.ok) return res;
    let code = `HTTP_${res.status}`;
    let message = res.statusText;
    try {
      const body = (await res.json()) as ErrorReply;
      code = body.error.code;
      message = body.error.message;
    } catch {
      /* not our JSON: keep the status line */
    }
    throw new ServerRequestError(`server ${this.url} refused the request (${res.status} ${code}): ${message}`, res.status, code);
  }
}

function parseSse(block: string): ServerEvent | undefined {
  let event = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  if (!data.length) return undefined;
  const text = data.join("\n");
  try {
    return { event, data: JSON.parse(text) as unknown };
  } catch {
    return { event, data: text };
  }
}

export type { RunChange };
