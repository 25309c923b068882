import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { captureTraceContext, SpanKind, withSpanFromContext } from './trace-context';

const exporter = new InMemorySpanExporter();
let provider: NodeTracerProvider;

beforeAll(() => {
  // registers the AsyncLocalStorage context manager and the W3C propagator, as the Node SDK does
  provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
});
afterEach(() => exporter.reset());
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

const tracer = () => trace.getTracer('test');

describe('captureTraceContext', () => {
  it('is null outside any span', () => {
    expect(captureTraceContext()).toBeNull();
  });

  it("returns the active span's W3C traceparent", () => {
    const carrier = tracer().startActiveSpan('consumer', (span) => {
      const c = captureTraceContext();
      span.end();
      return { c, ids: span.spanContext() };
    });
    expect(carrier.c).toEqual({ traceparent: `00-${carrier.ids.traceId}-${carrier.ids.spanId}-01` });
  });
});

describe('withSpanFromContext', () => {
  it('parents the span to the stored context, not to the ambient span, with kind and attributes', async () => {
    const stored = tracer().startActiveSpan('request', (span) => {
      span.end();
      return captureTraceContext()!;
    });
    const ambient = tracer().startSpan('poller pass');
    await context.with(trace.setSpan(context.active(), ambient), () =>
      withSpanFromContext('smtp send', stored, { kind: SpanKind.CLIENT, attributes: { a: 1 } }, async () => {
        // work inside sees the new span as active
        expect(captureTraceContext()!.traceparent).not.toBe(stored.traceparent);
      }),
    );
    ambient.end();
    const send = exporter.getFinishedSpans().find((s) => s.name === 'smtp send')!;
    const request = exporter.getFinishedSpans().find((s) => s.name === 'request')!;
    expect(send.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(send.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(send.kind).toBe(SpanKind.CLIENT);
    expect(send.attributes).toEqual({ a: 1 });
  });

  it('starts a root span when there is no usable stored context, and links the other contexts', async () => {
    const other = tracer().startActiveSpan('other request', (span) => {
      span.end();
      return captureTraceContext()!;
    });
    await withSpanFromContext('a', null, {}, async () => undefined);
    await withSpanFromContext(
      'b',
      { traceparent: 'garbage' },
      { links: [other, null] },
      async () => undefined,
    );
    const [a, b] = ['a', 'b'].map((n) => exporter.getFinishedSpans().find((s) => s.name === n)!);
    expect(a.parentSpanContext).toBeUndefined();
    expect(b.parentSpanContext).toBeUndefined();
    expect(b.spanContext().traceId).not.toBe(other.traceparent.split('-')[1]);
    expect(b.links.map((l) => l.context.spanId)).toEqual([other.traceparent.split('-')[2]]);
  });

  it('records an error on the span and rethrows it', async () => {
    await expect(
      withSpanFromContext('fails', null, {}, async () => {
        throw new Error('550 mailbox unavailable');
      }),
    ).rejects.toThrow('550 mailbox unavailable');
    const span = exporter.getFinishedSpans().find((s) => s.name === 'fails')!;
    expect(span.status).toEqual({ code: 2, message: '550 mailbox unavailable' });
    expect(span.events.map((e) => e.name)).toEqual(['exception']);
  });
});
