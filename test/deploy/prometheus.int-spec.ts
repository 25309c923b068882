/*
 * Runs EVERY PromQL expression of the Grafana dashboard and of the alert rules against a real Prometheus
 * (Debian's package) that scrapes a service's real ops endpoint (/metrics from libs/runtime + libs/telemetry),
 * with the gauges backed by a real app database and the real broker. Refresh metrics are recorded through
 * the same libs/telemetry instruments the refresher, scheduler, notifier and dead-letter publisher use.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  createAppDataSource,
  ObservabilityRepository,
  SettingKey,
  SettingRepository,
} from '@model-persistence/database';
import { topicName, Topics } from '@model-persistence/contracts';
import {
  DatabaseGaugeSource,
  KafkaAdminGaugeSource,
  OpsServer,
  startOpsServer,
} from '@model-persistence/runtime';
import {
  Metrics,
  registerKafkaGauges,
  registerModelGauges,
  startTelemetry,
  Telemetry,
} from '@model-persistence/telemetry';
import {
  createTestAppDatabase,
  createTestTopics,
  eventually,
  produceRaw,
  testKafkaConfig,
  TestAppDatabase,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import type { Admin, Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import {
  ALERTS_FILE,
  alertRules,
  comparisonLhs,
  dashboardQueries,
  PrometheusProcess,
  PromResult,
  ROOT,
  withoutGrafanaVariables,
} from './promql';

function ensurePrometheus(): { prometheus: string; promtool: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/ensure-prometheus.js')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ensure-prometheus failed: ${r.stderr}${r.stdout}`);
  const m = /\[ensure-prometheus\] (\S+), (\S+)/.exec(r.stdout);
  if (!m) throw new Error(`unexpected ensure-prometheus output: ${r.stdout}`);
  return { prometheus: m[1], promtool: m[2] };
}

/** One round of the metrics a refresh run produces: a success, an unchanged model, a failure, a run with 7 failed models… */
function recordRefreshActivity(): void {
  Metrics.refreshDuration().record(2400, { 'db.id': '1', outcome: 'success', engine: 'postgres' });
  Metrics.refreshDuration().record(1900, { 'db.id': '1', outcome: 'error', engine: 'postgres' });
  Metrics.refreshes().add(1, { outcome: 'success', 'db.id': '1' });
  // change detection: a scheduled refresh that found the model's inputs unchanged
  Metrics.refreshDuration().record(0.02, { 'db.id': '1', outcome: 'unchanged', engine: 'postgres' });
  Metrics.refreshes().add(1, { outcome: 'unchanged', 'db.id': '1' });
  Metrics.refreshes().add(1, { outcome: 'error', 'error.class': 'source_query_failed', 'db.id': '1' });
  Metrics.runs().add(1, { trigger: 'scheduled', outcome: 'failed' });
  Metrics.runFailedModels().record(7, { 'db.id': '1' });
  Metrics.schedulerFires().add(1, { kind: 'database', result: 'published' });
  Metrics.schedulerLateness().record(0.2, { kind: 'database' });
  Metrics.deadLetters().add(1, { topic: 'refresh.requested', 'error.code': 'INVALID_EVENT' });
  Metrics.emails().add(1, { kind: 'failure', outcome: 'sent' });
}

const nonEmpty = (r: PromResult) => r.status === 'success' && (r.data?.result.length ?? 0) > 0;
const hasNumber = (r: PromResult) => (r.data?.result ?? []).some((s) => Number.isFinite(Number(s.value[1])));

describe('dashboard and alert PromQL against a real Prometheus', () => {
  let db: TestAppDatabase;
  let ds: DataSource;
  let kafka: Kafka;
  let admin: Admin;
  let telemetry: Telemetry;
  let ops: OpsServer;
  let prom: PrometheusProcess;
  let promtool: string;

  beforeAll(async () => {
    const bins = ensurePrometheus();
    promtool = bins.promtool;

    db = await createTestAppDatabase('h7prom');
    ds = await createAppDataSource({ url: db.url, poolSize: 2 }).initialize();
    // One source database, a fresh model and one refreshed two days ago on the default 6-hourly schedule.
    await ds.query(
      `INSERT INTO "database" (id, name, engine, host, port, db_name, user_name) VALUES (1, 'sales', 'postgres', 'h', 5432, 'd', 'u')`,
    );
    await ds.query(
      `INSERT INTO card (id, name, database_id, query_sql, max_staleness_seconds)
       VALUES (1, 'Orders', 1, 'select 1', NULL), (2, 'Stale', 1, 'select 2', NULL), (3, 'Targeted', 1, 'select 3', 300),
              (4, 'OnTarget', 1, 'select 4', 3600)`,
    );
    await ds.query(
      `INSERT INTO persisted_info (database_id, card_id, question_slug, schema_name, table_name, active, state, last_success_at)
       VALUES (1, 1, 'orders', 's', 'model_1_orders', true, 'persisted', now() - interval '5 minutes'),
              (1, 2, 'stale', 's', 'model_2_stale', true, 'error', now() - interval '2 days'),
              -- 10 minutes old: fine for the 6-hour schedule, stale for its 5-minute target
              (1, 3, 'targeted', 's', 'model_3_targeted', true, 'persisted', now() - interval '10 minutes'),
              -- 30 minutes old against a 1-hour target: not stale
              (1, 4, 'ontarget', 's', 'model_4_ontarget', true, 'persisted', now() - interval '30 minutes')`,
    );
    const settings = new SettingRepository(ds);
    await settings.set(SettingKey.RefreshCronSchedule, '0 0 0/6 * * ? *');

    const kafkaConfig = testKafkaConfig(uniqueTopicPrefix('h7prom'));
    kafka = await createTestTopics(kafkaConfig);
    admin = kafka.admin();
    await admin.connect();
    // Unconsumed work for the lag gauge, and one message in the dead-letter topic.
    await produceRaw(kafka, topicName(kafkaConfig.topicPrefix, Topics.RefreshRequested), [
      { key: '1', value: '{}' },
    ]);
    await produceRaw(kafka, topicName(kafkaConfig.topicPrefix, Topics.DeadLetter), [
      { key: '1', value: '{}' },
    ]);

    telemetry = startTelemetry({ serviceName: 'refresher', instanceId: 'refresher-test' });
    registerModelGauges(new DatabaseGaugeSource(new ObservabilityRepository(ds), settings));
    registerKafkaGauges(new KafkaAdminGaugeSource(admin, kafkaConfig.topicPrefix));
    recordRefreshActivity();
    ops = await startOpsServer({ port: 0, host: '127.0.0.1', ready: () => true });

    prom = new PrometheusProcess(bins.prometheus);
    await prom.start([{ job: 'refresher', address: `127.0.0.1:${ops.port}` }], [ALERTS_FILE]);
    await eventually(async () => {
      const up = await prom.query('up{job="refresher"} == 1').catch(() => null);
      return up && nonEmpty(up);
    }, 30_000);
    // A second round after the first scrapes, so rate() and increase() see the counters move.
    await new Promise((r) => setTimeout(r, 2500));
    recordRefreshActivity();
    await new Promise((r) => setTimeout(r, 3500));
  }, 90_000);

  afterAll(async () => {
    await prom?.stop();
    await ops?.close();
    await telemetry?.shutdown();
    await admin?.disconnect();
    await ds?.destroy();
    await db?.drop();
  });

  it('promtool accepts the alert rules', () => {
    const r = spawnSync(promtool, ['check', 'rules', ALERTS_FILE], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('serves the metrics the catalog promises, with the service labels', async () => {
    const text = await (await fetch(`http://127.0.0.1:${ops.port}/metrics`)).text();
    for (const name of [
      'model_persistence_refresh_duration_bucket',
      'model_persistence_refreshes_total',
      'model_persistence_models',
      'model_persistence_model_staleness',
      'model_persistence_model_refresh_interval',
      'model_persistence_model_max_staleness',
      'model_persistence_model_staleness_limit',
      'model_persistence_consumer_lag',
      'model_persistence_dead_letter_messages',
      'process_memory_usage',
      'process_memory_limit',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/target_info\{[^}]*service_name="refresher"/);
  });

  it('every dashboard query returns data', async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(10);
    const problems: string[] = [];
    for (const q of queries) {
      const expr = withoutGrafanaVariables(q.expr);
      const r = await prom.query(expr);
      if (r.status !== 'success') problems.push(`${q.panel}: ${expr}: ${r.error}`);
      else if (!nonEmpty(r)) problems.push(`${q.panel}: ${expr}: empty result`);
      else if (!hasNumber(r)) problems.push(`${q.panel}: ${expr}: only NaN`);
    }
    expect(problems).toEqual([]);
  });

  it('every alert expression evaluates, and the series each alert watches exist', async () => {
    const rules = alertRules();
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'ModelRefreshSuccessRateLow',
        'ModelRefreshSlow',
        'ModelRefreshRunManyFailures',
        'ModelPersistenceMemoryHigh',
        'ModelCacheStale',
        'DeadLetterTopicNotEmpty',
      ]),
    );
    const problems: string[] = [];
    for (const rule of rules) {
      const full = await prom.query(rule.expr);
      if (full.status !== 'success') problems.push(`${rule.alert}: ${full.error}`);
      const lhs = comparisonLhs(rule.expr);
      const watched = await prom.query(lhs);
      if (!nonEmpty(watched) || !hasNumber(watched)) problems.push(`${rule.alert}: no data for ${lhs}`);
    }
    expect(problems).toEqual([]);
  });

  it('the conditions this data breaks make their alerts true', async () => {
    // 1 success : 1 error, 40/32-minute refreshes, 7 failed models in a run, a model 2 days stale on a
    // 6-hour schedule, one dead letter: these must fire; memory and lag must not.
    const firing = new Set<string>();
    for (const rule of alertRules()) if (nonEmpty(await prom.query(rule.expr))) firing.add(rule.alert);
    expect([...firing].sort()).toEqual(
      [
        'DeadLetterTopicNotEmpty',
        'ModelCacheStale',
        'ModelRefreshRunManyFailures',
        'ModelRefreshSlow',
        'ModelRefreshSuccessRateLow',
      ].sort(),
    );
    const stale = await prom.query(alertRules().find((r) => r.alert === 'ModelCacheStale')!.expr);
    // the target replaces the schedule's limit: 10 minutes is stale for a 5-minute target, 30 for 1 hour is not
    expect(stale.data?.result.map((s) => s.metric.model_name).sort()).toEqual(['Stale', 'Targeted']);
  });

  it('Prometheus loaded the rule file and evaluates every rule without error', async () => {
    const rules = await eventually(async () => {
      const r = await prom.get<{
        data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
      }>('/api/v1/rules');
      const all = r.data.groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((x) => x.health === 'ok') ? all : null;
    }, 15_000);
    expect(rules.map((r) => r.name).sort()).toEqual(
      alertRules()
        .map((r) => r.alert)
        .sort(),
    );
  });
});
