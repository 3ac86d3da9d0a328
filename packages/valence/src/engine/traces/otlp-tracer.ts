/**
 * Spans from a run's observations, exported over OTLP/HTTP (JSON): one span
 * per dispatch run, a child span per node attempt. Loaded only through
 * `startTracing` when traces are configured, so the OpenTelemetry SDK costs
 * nothing otherwise. The provider is Valence's own, not registered globally:
 * the user's code keeps whatever tracing it set up.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { DispatchId } from "../../ids.js";
import type { NodeEnded, Observation, RunObserver } from "../observe/observation.js";
import type { TraceSetting } from "./trace-setting.js";

export class OtlpTracer implements RunObserver {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  /** Dispatch runs under way: the parent of their nodes' spans. */
  private readonly open = new Map<DispatchId, Span>();

  constructor(setting: TraceSetting, serviceName: string) {
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": serviceName }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: setting.url }))],
    });
    this.tracer = this.provider.getTracer("valence");
  }

  observe(o: Observation): void {
    switch (o.kind) {
      case "dispatch-started":
        this.open.get(o.dispatchId)?.end(o.at); // a run that never said it ended (its process died)
        this.open.set(
          o.dispatchId,
          this.tracer.startSpan("dispatch", { kind: SpanKind.INTERNAL, startTime: o.at, attributes: { "valence.dispatch.id": o.dispatchId } }, ROOT_CONTEXT),
        );
        return;
      case "node-ended":
        this.node(o);
        return;
      case "dispatch-ended": {
        const span = this.open.get(o.dispatchId);
        if (!span) return;
        this.open.delete(o.dispatchId);
        span.setAttribute("valence.status", o.status);
        if (o.status === "FAILED") span.setStatus({ code: SpanStatusCode.ERROR });
        span.end(o.at);
        // Sent now: an embedded dispatch's process may exit as soon as it has the result.
        void this.provider.forceFlush().catch(() => undefined);
        return;
      }
      case "store-write":
        return;
    }
  }

  private node(o: NodeEnded): void {
    const parent = this.open.get(o.dispatchId);
    const context = parent ? trace.setSpan(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
    const span = this.tracer.startSpan(
      o.name,
      {
        kind: SpanKind.INTERNAL,
        startTime: o.handedOverAt,
        attributes: {
          "valence.dispatch.id": o.dispatchId,
          "valence.node.id": o.node,
          "valence.node.kind": o.nodeKind,
          "valence.executor": o.executor ?? "",
          "valence.attempt": o.attempt,
          "valence.status": o.status,
          "valence.retrying": o.retrying,
          ...(o.cache && { "valence.cache": o.cache }),
        },
      },
      context,
    );
    // Handoff to body start is the executor's queue (a worker, a host, a cluster).
    if (o.startedAt !== null) span.addEvent("body started", o.startedAt);
    if (o.status === "FAILED") span.setStatus({ code: SpanStatusCode.ERROR });
    span.end(o.endedAt);
  }

  /** Sends what is buffered and stops; spans of runs still open are ended now. */
  async shutdown(): Promise<void> {
    const now = Date.now();
    for (const span of this.open.values()) span.end(now);
    this.open.clear();
    await this.provider.shutdown();
  }
}
