/*
 * One refresh request, one trace, across the real compiled services (npx tsc -b tsconfig.build.json first;
 * npm test builds): the API's HTTP span → Kafka → the refresher's consumer span and its SQL → the refresher's
 * RefreshFailed / RefreshRunCompleted → the notifier's consumer span → the notifier's `smtp send` span, whose
 * email a real SMTP server receives. The services export over OTLP/HTTP (JSON) to a receiver in this test,
 * which is how spans of three processes end up in one place.
 */
import { existsSync } from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import {
  createTestAppDatabase,
  createTestSourceDatabase,
  createTestTopics,
  eventually,
  ServiceName,
  ServiceProcess,
  TEST_BROKERS,
  TestAppDatabase,
  testKafkaConfig,
  TestSmtpServer,
  TestSourceDatabase,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { freePort, ROOT } from './promql';
import { adminApi, registerPersistedSource } from './fixtures/admin-api';

const SERVICES: ServiceName[] = ['api', 'refresher', 'notifier'];
// OTLP span kinds (the OpenTelemetry API's SpanKind + 1)
const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
  status?: { code?: number };
}
interface OtlpTraces {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

interface SpanRecord {
  service: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  attributes: Record<string, unknown>;
  statusCode: number;
}

const valueOf = (v: OtlpValue): unknown =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
const attrs = (list: OtlpAttribute[] = []) => Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));

/** A minimal OTLP/HTTP JSON receiver: keeps every span it is sent, answers metrics with 200. */
class OtlpReceiver {
  readonly spans: SpanRecord[] = [];
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.body(req).then(
        (body) => {
          if (req.url === '/v1/traces') this.collect(JSON.parse(body.toString('utf8')) as OtlpTraces);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        },
        () => res.writeHead(400).end(),
      );
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private async body(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
  }

  private collect(t: OtlpTraces): void {
    for (const rs of t.resourceSpans ?? []) {
      const name = attrs(rs.resource?.attributes)['service.name'];
      const service = typeof name === 'string' ? name : '';
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? [])
          this.spans.push({
            service,
            name: s.name,
            kind: s.kind,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ? s.parentSpanId : null,
            attributes: attrs(s.attributes),
            statusCode: s.status?.code ?? 0,
          });
    }
  }
}

function ensureBuilt(): void {
  if (SERVICES.every((s) => existsSync(join(ROOT, 'services', s, 'dist', 'main.js')))) return;
  const r = spawnSync('npx', ['tsc', '-b', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
}

describe('one trace from the API request to the failure email (real services, broker, pg and SMTP)', () => {
  let db: TestAppDatabase;
  let source: TestSourceDatabase;
  let smtp: TestSmtpServer;
  const otlp = new OtlpReceiver();
  const procs: ServiceProcess[] = [];
  const prefix = uniqueTopicPrefix('h9trace');
  const token = `tok-${Date.now()}-h9-trace-test`;
  let apiUrl = '';
  let cardId = 0;
  let cases: { request: 'persist' | 'refresh'; send: SpanRecord }[] = [];

  const api = adminApi(() => apiUrl, token);

  beforeAll(async () => {
    ensureBuilt();
    db = await createTestAppDatabase('h9trace');
    source = await createTestSourceDatabase('postgres', 'h9trace');
    await createTestTopics(testKafkaConfig(prefix));
    smtp = await new TestSmtpServer().start(0);
    await otlp.start();

    const apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    for (const name of SERVICES) {
      procs.push(
        new ServiceProcess(name, {
          NODE_ENV: 'test',
          DATABASE_URL: db.url,
          DATABASE_POOL_SIZE: '3',
          KAFKA_BROKERS: TEST_BROKERS.join(','),
          KAFKA_TOPIC_PREFIX: prefix,
          KAFKA_TOPIC_PARTITIONS: '3',
          LOG_LEVEL: 'info',
          METRICS_PORT: String(await freePort()),
          API_PORT: String(apiPort),
          API_BOOTSTRAP_TOKEN: token,
          SMTP_HOST: '127.0.0.1',
          SMTP_PORT: String(smtp.port),
          ALERT_RUN_GRACE_MS: '500',
          EMAIL_POLL_INTERVAL_MS: '200',
          ALERT_REPEAT_WINDOW_MS: '0',
          OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
        }),
      );
    }
    await Promise.all(procs.map((p) => p.start(/api listening on|started \(instance/, 90_000)));

    // A persisted model whose SQL fails: its refresh fails and the notifier emails the admin.
    const databaseId = await registerPersistedSource(api, source, 'sales');
    const bad = await api('POST', '/api/cards', {
      name: 'Broken',
      database_id: databaseId,
      sql: 'select n from h9_table_that_does_not_exist',
    });
    cardId = bad.id as number;
    // No scheduler runs here: only the two requests below refresh the model.
    // Persisting requests a first refresh; a manual refresh requests another. Both fail, and with a zero
    // repeat window both are announced: two emails, each of which must be in ITS request's trace.
    const sends = () => otlp.spans.filter((s) => s.name === 'smtp send');
    const waitForSends = async (n: number) => {
      try {
        // the batch span processors export every few seconds
        await eventually(async () => smtp.received.length >= n && sends().length >= n, 90_000, 250);
      } catch (e) {
        throw new Error(
          `waiting for ${n} email span(s): ${smtp.received.length} email(s), ${sends().length} send span(s)\n` +
            procs.map((p) => `--- ${p.name}\n${p.logs.slice(-15).join('\n')}`).join('\n'),
          { cause: e },
        );
      }
    };
    await api('POST', `/api/model-persistence/card/${cardId}/persist`);
    await waitForSends(1);
    await api('POST', `/api/model-persistence/card/${cardId}/refresh`);
    await waitForSends(2);
    // a send is the last span of its trace; give the other processes' exporters one more round
    await new Promise((r) => setTimeout(r, 6000));
    const [first, second] = sends();
    cases = [
      { request: 'persist', send: first },
      { request: 'refresh', send: second },
    ];
  }, 240_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop(20_000)));
    await otlp.stop();
    await smtp?.stop();
    await source?.drop();
    await db?.drop();
  }, 60_000);

  const inTrace = (traceId: string) => otlp.spans.filter((s) => s.traceId === traceId);
  const ancestors = (s: SpanRecord): SpanRecord[] => {
    const trace = inTrace(s.traceId);
    const out: SpanRecord[] = [];
    for (let p = trace.find((x) => x.spanId === s.parentSpanId); p;) {
      out.push(p);
      const parent = p.parentSpanId;
      p = trace.find((x) => x.spanId === parent);
    }
    return out;
  };
  const described = (s: SpanRecord) => `${s.service}:${s.name}`;
  const refresherConsumerOf = (traceId: string) =>
    inTrace(traceId).find(
      (s) =>
        s.service === 'refresher' && s.kind === CONSUMER && s.name === `process ${prefix}refresh.requested`,
    );

  it('the notifier sent both failure emails, in CLIENT spans carrying dedupe key, recipients and id', () => {
    expect(smtp.received.filter((m) => m.to.includes('ops@example.com'))).toHaveLength(2);
    for (const { send } of cases) {
      const email = smtp.received.find((m) => m.messageId === send.attributes['email.message_id']);
      expect(email).toBeDefined();
      expect(send.service).toBe('notifier');
      expect(send.kind).toBe(CLIENT);
      expect(send.statusCode).not.toBe(2); // not an error
      expect(send.attributes['notification.kind']).toBe('failure');
      expect(send.attributes['notification.dedupe_key']).toMatch(/:failure$/);
      expect(send.attributes['email.recipients.count']).toBe(1);
    }
  });

  it('each smtp send span descends from ITS API request, through both services and Kafka', () => {
    expect(cases[0].send.traceId).not.toBe(cases[1].send.traceId);
    for (const { request, send } of cases) {
      const chain = ancestors(send);
      const path = chain.map(described);
      // nearest first: notifier consumer … refresher producer … refresher consumer … api producer … api HTTP
      const notifierConsumer = chain.findIndex((s) => s.service === 'notifier' && s.kind === CONSUMER);
      const refresherProducer = chain.findIndex((s) => s.service === 'refresher' && s.kind === PRODUCER);
      const refresherConsumer = chain.indexOf(refresherConsumerOf(send.traceId)!);
      const apiProducer = chain.findIndex(
        (s) => s.service === 'api' && s.kind === PRODUCER && s.name === `send ${prefix}refresh.requested`,
      );
      const http = chain.findIndex((s) => s.service === 'api' && s.kind === SERVER);
      for (const i of [notifierConsumer, refresherProducer, refresherConsumer, apiProducer, http])
        expect({ found: i >= 0, request, path }).toEqual({ found: true, request, path });
      expect(notifierConsumer).toBeLessThan(refresherProducer);
      expect(refresherProducer).toBeLessThan(refresherConsumer);
      expect(refresherConsumer).toBeLessThan(apiProducer);
      expect(apiProducer).toBeLessThan(http);
      // the notifier consumed one of the refresher's failure events
      expect(chain[notifierConsumer].name).toMatch(new RegExp(`^process ${prefix}refresh\\.(failed|runs)$`));
      // the root of the trace is the HTTP request that asked for this refresh
      const root = chain[chain.length - 1];
      expect(root).toBe(chain[http]);
      expect(root.parentSpanId).toBeNull();
      expect(root.attributes['url.path'] ?? root.attributes['http.target']).toBe(
        `/api/model-persistence/card/${cardId}/${request}`,
      );
    }
  });

  it("the refresher's failing SQL is in the same trace, under its consumer span", () => {
    for (const { send } of cases) {
      const consumer = refresherConsumerOf(send.traceId)!;
      const failingSql = inTrace(send.traceId).filter(
        (s) =>
          s.service === 'refresher' &&
          s.kind === CLIENT &&
          [s.attributes['db.statement'], s.attributes['db.query.text']].some(
            (q) => typeof q === 'string' && q.includes('h9_table_that_does_not_exist'),
          ),
      );
      expect(failingSql.length).toBeGreaterThan(0);
      for (const sql of failingSql) expect(ancestors(sql)).toContainEqual(consumer);
    }
  });
});
