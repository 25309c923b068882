import {
  Attributes,
  context,
  Link,
  propagation,
  ROOT_CONTEXT,
  Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

export { SpanKind, SpanStatusCode } from '@opentelemetry/api';
export type { Span } from '@opentelemetry/api';

/** Marks `span` failed with `error` (for errors that are handled, so never reach the span's wrapper). */
export function recordSpanError(span: Span, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  span.recordException(error instanceof Error ? error : message);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** A W3C trace context (`traceparent`, optional `tracestate`) in a form that can be stored in a row. */
export type TraceCarrier = Record<string, string>;

/**
 * The active trace context as a carrier, for work that continues later from a stored row (an outbox):
 * null when no valid span is active, so callers store nothing rather than an empty object.
 */
export function captureTraceContext(): TraceCarrier | null {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? carrier : null;
}

function spanContextOf(carrier: TraceCarrier | null | undefined) {
  if (!carrier) return undefined;
  const sc = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, carrier));
  return sc && trace.isSpanContextValid(sc) ? sc : undefined;
}

export interface StoredContextSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Other stored contexts that contributed to this work: added as span links. */
  links?: (TraceCarrier | null | undefined)[];
}

/**
 * Runs `fn` in a new span whose parent is the STORED context `parent` (a root span when it is missing or
 * invalid), never the caller's ambient one: a poller sending rows queued by many requests must attach
 * each send to the request that queued it. Errors are recorded on the span and rethrown.
 */
export async function withSpanFromContext<T>(
  name: string,
  parent: TraceCarrier | null | undefined,
  options: StoredContextSpanOptions,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const sc = spanContextOf(parent);
  const parentCtx = sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
  const links: Link[] = (options.links ?? [])
    .map(spanContextOf)
    .filter((l): l is NonNullable<typeof l> => l !== undefined)
    .map((l) => ({ context: l }));
  return trace
    .getTracer('model-persistence')
    .startActiveSpan(
      name,
      { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, links },
      parentCtx,
      async (span) => {
        try {
          return await fn(span);
        } catch (e) {
          recordSpanError(span, e);
          throw e;
        } finally {
          span.end();
        }
      },
    );
}
