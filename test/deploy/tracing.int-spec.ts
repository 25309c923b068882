/*
 * W3C trace context end to end, with the real SDK (libs/telemetry), Nest, kafkajs, the broker and pg:
 * the consumer span continues the HTTP request's trace through the Kafka headers, the handler's SQL is a
 * child of the consumer span, an external producer's `traceparent` continues its trace, and JSON log lines
 * carry trace_id/span_id. Runs in a child process so the instrumentations can patch the modules.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createEvent, databaseKey, topicName, Topics } from '@model-persistence/contracts';
import { createTestTopics, produceRaw, testKafkaConfig, uniqueTopicPrefix } from '@model-persistence/testing';
import { ROOT } from './promql';

interface SpanRecord {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  attributes: Record<string, unknown>;
}
const SERVER = 1;
const PRODUCER = 3;
const CONSUMER = 4;
const CLIENT = 2;

function run(
  env: Record<string, string>,
  fixture = 'trace-scenario.ts',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'scripts/run-ts.js'), `test/deploy/fixtures/${fixture}`],
      {
        cwd: ROOT,
        env: { ...process.env, ...env },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('trace propagation through HTTP, Kafka and pg (real SDK, broker and database)', () => {
  const externalTrace = randomBytes(16).toString('hex');
  const externalParent = randomBytes(8).toString('hex');
  const prefix = uniqueTopicPrefix('h7trace');
  let spans: SpanRecord[] = [];
  let logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    // Another system (this uninstrumented process) publishes with its own W3C trace context.
    const kafka = await createTestTopics(testKafkaConfig(prefix, { partitions: 1 }));
    const external = createEvent('RefreshRequested', {
      databaseId: 8,
      trigger: 'external',
      requestedBy: 'etl',
    });
    await produceRaw(kafka, topicName(prefix, Topics.RefreshRequested), [
      {
        key: databaseKey(8),
        value: JSON.stringify(external),
        headers: { traceparent: `00-${externalTrace}-${externalParent}-01` },
      },
    ]);
    const r = await run({ TRACE_TOPIC_PREFIX: prefix });
    const line = r.stdout.split('\n').find((l) => l.startsWith('SPANS '));
    if (r.code !== 0 || !line)
      throw new Error(`scenario failed (${r.code}):\n${r.stderr}\n${r.stdout.slice(-3000)}`);
    spans = JSON.parse(line.slice(6)) as SpanRecord[];
    logs = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }, 110_000);

  const topic = () => `${prefix}refresh.requested`;
  const byId = (id: string | null) => spans.find((s) => s.spanId === id);
  const ancestors = (s: SpanRecord): SpanRecord[] => {
    const out: SpanRecord[] = [];
    for (let p = byId(s.parentSpanId); p; p = byId(p.parentSpanId)) out.push(p);
    return out;
  };

  it('the consumer span is a child of the producer span started by the API request', () => {
    const http = spans.find((s) => s.kind === SERVER && /POST/.test(s.name));
    expect(http).toBeDefined();
    const producer = spans.find(
      (s) => s.kind === PRODUCER && s.name === `send ${topic()}` && s.traceId === http!.traceId,
    );
    expect(producer).toBeDefined();
    expect(ancestors(producer!)).toContainEqual(http);
    const consumer = spans.find((s) => s.kind === CONSUMER && s.parentSpanId === producer!.spanId);
    expect(consumer).toBeDefined();
    expect(consumer!.name).toBe(`process ${topic()}`);
    expect(consumer!.traceId).toBe(http!.traceId);
  });

  it("the handler's SQL is a pg span under the consumer span", () => {
    const consumers = spans.filter((s) => s.kind === CONSUMER && s.name === `process ${topic()}`);
    expect(consumers).toHaveLength(2);
    for (const c of consumers) {
      const sql = spans.find(
        (s) =>
          s.kind === CLIENT &&
          s.traceId === c.traceId &&
          [s.attributes['db.statement'], s.attributes['db.query.text']].some(
            (q) => typeof q === 'string' && q.includes('SELECT 1'),
          ),
      );
      expect(sql).toBeDefined();
      expect(ancestors(sql!)).toContainEqual(c);
    }
  });

  it("an external producer's traceparent header continues its trace", () => {
    const consumer = spans.find((s) => s.kind === CONSUMER && s.traceId === externalTrace);
    expect(consumer).toBeDefined();
    expect(consumer!.parentSpanId).toBe(externalParent);
  });

  it('JSON log lines written while handling carry trace_id and span_id', () => {
    const handledLines = logs.filter(
      (l) => typeof l.message === 'string' && l.message.startsWith('handled '),
    );
    expect(handledLines).toHaveLength(2);
    const traces = handledLines.map((l) => l.trace_id);
    expect(traces).toContain(externalTrace);
    for (const l of handledLines) {
      expect(l.span_id).toMatch(/^[0-9a-f]{16}$/);
      expect(spans.some((s) => s.traceId === l.trace_id)).toBe(true);
    }
  });
});

describe('OTLP export (OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  it('pushes spans and metrics over OTLP/HTTP, flushed at shutdown; spans give logs their ids', async () => {
    const r = await run({}, 'otlp-scenario.ts');
    const line = r.stdout.split('\n').find((l) => l.startsWith('OTLP '));
    if (r.code !== 0 || !line) throw new Error(`scenario failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
    const out = JSON.parse(line.slice(5)) as {
      received: { path: string; bytes: number }[];
      inside: { trace_id?: string; span_id?: string };
      outside: object;
      sameInstance: boolean;
      failure: string;
      after: unknown;
    };
    expect(out.received.map((x) => x.path)).toEqual(expect.arrayContaining(['/v1/traces', '/v1/metrics']));
    for (const x of out.received) expect(x.bytes).toBeGreaterThan(0);
    expect(out.inside.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(out.inside.span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(out.outside).toEqual({});
    expect(out.sameInstance).toBe(true);
    expect(out.failure).toBe('boom');
    expect(out.after).toBeUndefined();
  }, 60_000);
});
