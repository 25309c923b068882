/*
 * The five compiled services as real processes (npx tsc -b tsconfig.build.json first; npm test builds), each
 * serving /metrics on its own METRICS_PORT, scraped by a real Prometheus. The test drives the product through
 * the API (a source database, a model that refreshes, a model whose SQL fails, a 5-second schedule, a
 * malformed message) and then runs EVERY PromQL expression of the Grafana dashboard and of the alert rules:
 * each must return data from what the services themselves emit.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { topicName, Topics } from '@model-persistence/contracts';
import {
  createTestAppDatabase,
  createTestSourceDatabase,
  createTestTopics,
  eventually,
  produceRaw,
  ServiceName,
  ServiceProcess,
  TEST_BROKERS,
  TestAppDatabase,
  testKafkaConfig,
  TestSmtpServer,
  TestSourceDatabase,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import {
  ALERTS_FILE,
  alertRules,
  comparisonLhs,
  dashboardQueries,
  freePort,
  PrometheusProcess,
  PromResult,
  ROOT,
  withoutGrafanaVariables,
} from './promql';
import { adminApi, registerPersistedSource } from './fixtures/admin-api';

const SERVICES: ServiceName[] = ['api', 'scheduler', 'refresher', 'notifier', 'history'];

function ensurePrometheus(): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/ensure-prometheus.js')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ensure-prometheus failed: ${r.stderr}${r.stdout}`);
  return /\[ensure-prometheus\] (\S+),/.exec(r.stdout)![1];
}

function ensureBuilt(): void {
  if (SERVICES.every((s) => existsSync(join(ROOT, 'services', s, 'dist', 'main.js')))) return;
  const r = spawnSync('npx', ['tsc', '-b', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
}

const nonEmpty = (r: PromResult) => r.status === 'success' && (r.data?.result.length ?? 0) > 0;
const hasNumber = (r: PromResult) => (r.data?.result ?? []).some((s) => Number.isFinite(Number(s.value[1])));

/** Series that only exist once the driven scenario went through every service. */
const MUST_APPEAR = [
  'model_persistence_refreshes_total{outcome="success"}',
  'model_persistence_refreshes_total{outcome="error"}',
  'model_persistence_run_failed_models_count',
  'model_persistence_scheduler_fires_total{result="published"}',
  'model_persistence_dead_letters_total',
  'model_persistence_emails_total{outcome="sent"}',
  'model_persistence_models{state="persisted"}',
  'model_persistence_model_staleness',
  'model_persistence_model_refresh_interval',
  'model_persistence_consumer_lag',
  'model_persistence_dead_letter_messages > 0',
];

describe('the real services feed every dashboard panel and alert rule (Prometheus, five processes)', () => {
  let db: TestAppDatabase;
  let source: TestSourceDatabase;
  let smtp: TestSmtpServer;
  let prom: PrometheusProcess;
  const procs: ServiceProcess[] = [];
  let apiUrl = '';
  const token = `tok-${Date.now()}-h7-metrics-test`;

  const api = adminApi(() => apiUrl, token);

  beforeAll(async () => {
    const prometheus = ensurePrometheus();
    ensureBuilt();
    db = await createTestAppDatabase('h7svc');
    source = await createTestSourceDatabase('postgres', 'h7svc');
    const prefix = uniqueTopicPrefix('h7svc');
    const kafka = await createTestTopics(testKafkaConfig(prefix));
    smtp = await new TestSmtpServer().start(0);

    const apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    const targets: { job: string; address: string }[] = [];
    for (const name of SERVICES) {
      const metricsPort = await freePort();
      targets.push({ job: name, address: `127.0.0.1:${metricsPort}` });
      procs.push(
        new ServiceProcess(name, {
          NODE_ENV: 'test',
          DATABASE_URL: db.url,
          DATABASE_POOL_SIZE: '3',
          KAFKA_BROKERS: TEST_BROKERS.join(','),
          KAFKA_TOPIC_PREFIX: prefix,
          KAFKA_TOPIC_PARTITIONS: '3',
          LOG_LEVEL: 'info',
          METRICS_PORT: String(metricsPort),
          API_PORT: String(apiPort),
          API_BOOTSTRAP_TOKEN: token,
          SMTP_HOST: '127.0.0.1',
          SMTP_PORT: String(smtp.port),
          ALERT_RUN_GRACE_MS: '500',
          EMAIL_POLL_INTERVAL_MS: '200',
        }),
      );
    }
    await Promise.all(procs.map((p) => p.start(/api listening on|started \(instance/, 90_000)));
    prom = new PrometheusProcess(prometheus);
    await prom.start(targets, [ALERTS_FILE]);

    // The scenario: one source database, a model that refreshes and one whose SQL fails, every 5 seconds.
    const databaseId = await registerPersistedSource(api, source, 'sales');
    const good = await api('POST', '/api/cards', {
      name: 'Orders',
      database_id: databaseId,
      sql: 'select 1 as n',
    });
    const bad = await api('POST', '/api/cards', {
      name: 'Broken',
      database_id: databaseId,
      sql: 'select n from h7_table_that_does_not_exist',
    });
    await api('POST', `/api/model-persistence/card/${good.id as number}/persist`);
    await api('POST', `/api/model-persistence/card/${bad.id as number}/persist`);
    await api('POST', '/api/model-persistence/set-refresh-schedule', { cron: '0/5 * * * * ? *' });
    await api('POST', `/api/model-persistence/card/${good.id as number}/refresh`);
    // Something no consumer can process: dead-lettered by the refresher.
    await produceRaw(kafka, topicName(prefix, Topics.RefreshRequested), [
      { key: String(databaseId), value: '{"nope":' },
    ]);

    const missing = async () => {
      const out: string[] = [];
      for (const expr of MUST_APPEAR) if (!nonEmpty(await prom.query(expr))) out.push(expr);
      return out;
    };
    try {
      await eventually(async () => (await missing()).length === 0, 90_000, 1000);
    } catch (e) {
      throw new Error(
        `series still missing: ${(await missing()).join(', ')}\n` +
          procs.map((p) => `--- ${p.name}\n${p.logs.slice(-15).join('\n')}`).join('\n'),
        { cause: e },
      );
    }
    // A few more scrapes, so rate() over the short window sees the counters move.
    await new Promise((r) => setTimeout(r, 6000));
  }, 240_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop(20_000)));
    await prom?.stop();
    await smtp?.stop();
    await source?.drop();
    await db?.drop();
  }, 60_000);

  it('sent the failure email for the broken model', () => {
    expect(smtp.received.some((m) => m.to.includes('ops@example.com'))).toBe(true);
  });

  it('every dashboard query returns data', async () => {
    const problems: string[] = [];
    for (const q of dashboardQueries()) {
      const expr = withoutGrafanaVariables(q.expr, '1m', '10m');
      const r = await prom.query(expr);
      if (r.status !== 'success') problems.push(`${q.panel}: ${expr}: ${r.error}`);
      else if (!nonEmpty(r) || !hasNumber(r)) problems.push(`${q.panel}: ${expr}: no data`);
    }
    expect(problems).toEqual([]);
  });

  it('every alert rule evaluates and watches series that exist', async () => {
    const problems: string[] = [];
    for (const rule of alertRules()) {
      const full = await prom.query(rule.expr);
      if (full.status !== 'success') problems.push(`${rule.alert}: ${full.error}`);
      const lhs = comparisonLhs(rule.expr);
      const watched = await prom.query(lhs);
      if (!nonEmpty(watched) || !hasNumber(watched)) problems.push(`${rule.alert}: no data for ${lhs}`);
    }
    expect(problems).toEqual([]);
    // Half the refreshes fail and the dead-letter topic holds a message: those two alerts' conditions hold.
    expect(
      nonEmpty(await prom.query(alertRules().find((r) => r.alert === 'DeadLetterTopicNotEmpty')!.expr)),
    ).toBe(true);
    expect(
      nonEmpty(await prom.query(alertRules().find((r) => r.alert === 'ModelRefreshSuccessRateLow')!.expr)),
    ).toBe(true);
  });

  it('labels every series with the service it comes from', async () => {
    const up = await prom.query('up == 1');
    expect(up.data?.result.map((s) => s.metric.job).sort()).toEqual([...SERVICES].sort());
    const memory = await prom.query('process_memory_usage');
    expect(new Set(memory.data?.result.map((s) => s.metric.job))).toEqual(new Set(SERVICES));
  });
});
