import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { createLogger } from './logger';

describe('JSON logs', () => {
  const manager = new AsyncLocalStorageContextManager().enable();
  beforeAll(() => context.setGlobalContextManager(manager));
  afterAll(() => context.disable());

  function capture(fn: () => void): Record<string, unknown>[] {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      fn();
    } finally {
      spy.mockRestore();
    }
    return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  it('carry trace_id and span_id of the active span, and none outside a span', () => {
    const logger = createLogger({ service: 'refresher', log: { level: 'info', json: true } });
    const span = trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
    });
    const [inside] = capture(() =>
      context.with(trace.setSpan(context.active(), span), () => logger.log('refreshing')),
    );
    expect(inside).toMatchObject({
      message: 'refreshing',
      level: 'log',
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: 'b7ad6b7169203331',
    });
    const [outside] = capture(() => logger.log('idle'));
    expect(outside.message).toBe('idle');
    expect(outside).not.toHaveProperty('trace_id');
  });
});
