import { context, metrics, trace } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { NestInstrumentation } from '@opentelemetry/instrumentation-nestjs-core';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { IMetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, NoopSpanProcessor, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resetInstrumentCache } from './metrics';
import { registerProcessMetrics, resetProcessMetrics } from './process-metrics';

export interface TelemetryOptions {
  serviceName: string;
  instanceId?: string;
  /** OTLP/HTTP base URL (e.g. http://otel-collector:4318): traces and metrics are exported there too. */
  otlpEndpoint?: string;
  /** Extra span processors (tests use an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
  /** OTLP metric export interval; default 15 s. */
  otlpMetricIntervalMs?: number;
}

export interface Telemetry {
  readonly serviceName: string;
  /** The Prometheus pull reader; its handler serves `/metrics` on the ops server (libs/runtime). */
  readonly prometheus: PrometheusExporter;
  shutdown(): Promise<void>;
}

let current: Telemetry | undefined;

/** The started telemetry, if any (the ops server serves `/metrics` from it). */
export function activeTelemetry(): Telemetry | undefined {
  return current;
}

/** Serves the Prometheus text format; 503 when telemetry was not started in this process. */
export function prometheusHandler(req: IncomingMessage, res: ServerResponse): void {
  if (!current) {
    res.statusCode = 503;
    res.end('telemetry not started\n');
    return;
  }
  current.prometheus.getMetricsRequestHandler(req, res);
}

/**
 * Starts the OpenTelemetry Node SDK once per process: W3C trace context (propagated in HTTP and Kafka
 * headers by the http and kafkajs instrumentations), spans for http/express/nest/pg/kafkajs, metrics pulled
 * by Prometheus and, when an OTLP endpoint is configured, pushed over OTLP/HTTP with the traces.
 * Must run before kafkajs, pg and http are first required, so the instrumentations can patch them.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (current) return current;
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const readers: IMetricReader[] = [prometheus];
  const spanProcessors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  if (options.otlpEndpoint) {
    const base = options.otlpEndpoint.replace(/\/+$/, '');
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }),
        exportIntervalMillis: options.otlpMetricIntervalMs ?? 15_000,
      }),
    );
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` })));
  }
  // Without any processor the SDK registers no tracer provider: no trace ids in logs, no propagation.
  if (spanProcessors.length === 0) spanProcessors.push(new NoopSpanProcessor());

  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      [ATTR_SERVICE_VERSION]: '0.1.0',
      'service.namespace': 'model-persistence',
      ...(options.instanceId ? { 'service.instance.id': options.instanceId } : {}),
    }),
    autoDetectResources: false,
    metricReaders: readers,
    spanProcessors,
    instrumentations: [
      new HttpInstrumentation({
        // Probes and scrapes would otherwise flood the traces.
        ignoreIncomingRequestHook: (req) => /^\/(metrics|health|ready)\b/.test(req.url ?? ''),
      }),
      new ExpressInstrumentation(),
      new NestInstrumentation(),
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
      new KafkaJsInstrumentation(),
    ],
  });
  sdk.start();
  resetInstrumentCache(); // instruments made before start were bound to the no-op provider
  registerProcessMetrics();
  current = {
    serviceName: options.serviceName,
    prometheus,
    shutdown: async () => {
      current = undefined;
      await sdk.shutdown();
      resetInstrumentCache();
      resetProcessMetrics();
    },
  };
  return current;
}

/** The active span's ids, as log fields (empty outside a span). */
export function currentTraceIds(): { trace_id?: string; span_id?: string } {
  const span = trace.getSpan(context.active());
  const ctx = span?.spanContext();
  if (!ctx || !trace.isSpanContextValid(ctx)) return {};
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}

/** Runs `fn` in a new child span (e.g. the notifier's SMTP send), recording errors on it. */
export async function withSpan<T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: () => Promise<T>,
): Promise<T> {
  return trace.getTracer('model-persistence').startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn();
    } catch (e) {
      span.recordException(e as Error);
      span.setStatus({ code: 2, message: e instanceof Error ? e.message : String(e) });
      throw e;
    } finally {
      span.end();
    }
  });
}

/** True when a meter provider other than the no-op one is registered. */
export function metricsEnabled(): boolean {
  return metrics.getMeterProvider().constructor.name !== 'NoopMeterProvider';
}
