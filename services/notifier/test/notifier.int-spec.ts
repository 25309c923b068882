import { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import {
  createEvent,
  databaseKey,
  ErrorClass,
  RefreshFailed,
  RefreshRunCompleted,
  RefreshSucceeded,
  topicName,
  Topics,
  Trigger,
} from '@model-persistence/contracts';
import { createAppDataSource } from '@model-persistence/database';
import { kafkaMicroservice } from '@model-persistence/messaging';
import {
  createTestAppDatabase,
  createTestTopics,
  eventually,
  produceRaw,
  testKafkaConfig,
  TestAppDatabase,
  TestSmtpServer,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Kafka } from 'kafkajs';
import { DataSource } from 'typeorm';
import { AppModule } from '../src/app.module';
import { loadNotifierConfig } from '../src/config';
import { formatTime } from '../src/email-templates';
import { messageIdFor } from '../src/outbox-sender.service';

const H = 60 * 60 * 1000;
const T0 = new Date('2026-11-20T10:00:00Z').getTime();
const BASE_URL = 'https://mp.example.com';
const FAILED_SALES = '[Model Persistence] Model cache refresh failed for Sales DB';
const RECOVERED_SALES = '[Model Persistence] Model cache refresh succeeded again for Sales DB';
const FAILED_WAREHOUSE = '[Model Persistence] Model cache refresh failed for Warehouse DB';
const FAILED_ARCHIVE = '[Model Persistence] Model cache refresh failed for Archive DB';
const FAILED_AUDIT = '[Model Persistence] Model cache refresh failed for Audit DB';

interface ModelFailure {
  cardId: number;
  errorClass: ErrorClass;
  message: string;
  outcome?: 'error' | 'skipped';
}

describe('notifier (real Kafka, PostgreSQL and SMTP)', () => {
  const prefix = uniqueTopicPrefix('notifier');
  const kafkaConfig = testKafkaConfig(prefix);
  const groupId = `notifier-${prefix}`;
  const smtp = new TestSmtpServer();
  let appDb: TestAppDatabase;
  let ds: DataSource;
  let kafka: Kafka;
  let recorder: TopicRecorder;
  let app: INestMicroservice | null = null;
  let env: Record<string, string>;
  const ids = {
    sales: 0,
    warehouse: 0,
    archive: 0,
    orders: 0,
    revenue: 0,
    customers: 0,
    stock: 0,
    ledger: 0,
    audit: 0,
    auditLog: 0,
  };

  async function startApp(): Promise<void> {
    const config = loadNotifierConfig(env);
    app = await NestFactory.createMicroservice(AppModule.forRoot(config), {
      ...kafkaMicroservice(config.kafka, { groupId }),
      logger: ['error', 'warn'],
    });
    await app.listen();
  }

  async function stopApp(): Promise<void> {
    await app?.close();
    app = null;
  }

  const publish = async (topic: string, databaseId: number, events: object[]) =>
    produceRaw(
      kafka,
      topicName(prefix, topic as never),
      events.map((e) => ({ key: databaseKey(databaseId), value: JSON.stringify(e) })),
    );

  function runEvents(opts: {
    databaseId: number;
    at: number;
    trigger?: Trigger;
    cardId?: number;
    failures?: ModelFailure[];
    successes?: number[];
  }): { runId: string; perModel: (RefreshFailed | RefreshSucceeded)[]; completed: RefreshRunCompleted } {
    const runId = randomUUID();
    const trigger = opts.trigger ?? 'scheduled';
    const startedAt = new Date(opts.at - 60_000).toISOString();
    const endedAt = new Date(opts.at).toISOString();
    const common = { runId, databaseId: opts.databaseId, trigger, startedAt, endedAt, durationMs: 60_000 };
    const failures = (opts.failures ?? []).map((f) =>
      createEvent('RefreshFailed', {
        ...common,
        cardId: f.cardId,
        persistedInfoId: f.cardId,
        attempts: 1,
        outcome: f.outcome ?? 'error',
        errorClass: f.errorClass,
        errorCode: 'SOURCE_QUERY',
        message: f.message,
      }),
    );
    const successes = (opts.successes ?? []).map((cardId) =>
      createEvent('RefreshSucceeded', {
        ...common,
        cardId,
        persistedInfoId: cardId,
        attempts: 1,
        schemaName: 'mp_cache_x_1',
        tableName: `model_${cardId}`,
        rows: 10,
      }),
    );
    const errors = failures.filter((f) => f.outcome === 'error');
    const completed = createEvent('RefreshRunCompleted', {
      ...common,
      cardId: opts.cardId,
      success: successes.length,
      error: errors.length,
      skipped: failures.length - errors.length,
      errorDetails: errors.map((f) => ({
        persistedInfoId: f.persistedInfoId,
        cardId: f.cardId,
        error: f.message,
      })),
    });
    return { runId, perModel: [...failures, ...successes], completed };
  }

  async function publishRun(run: ReturnType<typeof runEvents>, completionFirst = false): Promise<string> {
    const perModel = async () => {
      for (const e of run.perModel) {
        await publish(
          e.type === 'RefreshFailed' ? Topics.RefreshFailed : Topics.RefreshSucceeded,
          e.databaseId,
          [e],
        );
      }
    };
    if (!completionFirst) await perModel();
    await publish(Topics.RefreshRuns, run.completed.databaseId, [run.completed]);
    if (completionFirst) await perModel();
    return run.runId;
  }

  const waitDecided = (runId: string) =>
    eventually(async () => {
      const rows = await ds.query<{ decided_at: Date | null }[]>(
        'select decided_at from alert_run where run_id = $1',
        [runId],
      );
      return rows[0]?.decided_at ?? null;
    }, 60_000);

  const outboxOf = (runId: string) =>
    ds.query<{ dedupe_key: string; kind: string; status: string; attempts: number }[]>(
      'select dedupe_key, kind, status, attempts from notification_outbox where run_id = $1 order by id',
      [runId],
    );

  beforeAll(async () => {
    appDb = await createTestAppDatabase('notifier');
    ds = await createAppDataSource({ url: appDb.url, poolSize: 2 }).initialize();
    const [sales] = await ds.query<{ id: number }[]>(
      `insert into "database" (name, engine, host, port, db_name, user_name)
       values ('Sales DB', 'postgres', '127.0.0.1', 5432, 'sales', 'u') returning id`,
    );
    const [warehouse] = await ds.query<{ id: number }[]>(
      `insert into "database" (name, engine, host, port, db_name, user_name)
       values ('Warehouse DB', 'mysql', '127.0.0.1', 3306, 'wh', 'u') returning id`,
    );
    const [archive] = await ds.query<{ id: number }[]>(
      `insert into "database" (name, engine, host, port, db_name, user_name)
       values ('Archive DB', 'postgres', '127.0.0.1', 5432, 'archive', 'u') returning id`,
    );
    const [audit] = await ds.query<{ id: number }[]>(
      `insert into "database" (name, engine, host, port, db_name, user_name)
       values ('Audit DB', 'postgres', '127.0.0.1', 5432, 'audit', 'u') returning id`,
    );
    ids.audit = audit.id;
    ids.archive = archive.id;
    ids.sales = sales.id;
    ids.warehouse = warehouse.id;
    const card = async (name: string, databaseId: number) =>
      (
        await ds.query<{ id: number }[]>(
          `insert into card (name, database_id, query_sql) values ($1, $2, 'select 1') returning id`,
          [name, databaseId],
        )
      )[0].id;
    ids.orders = await card('Orders by day', ids.sales);
    ids.revenue = await card('Revenue by region', ids.sales);
    ids.customers = await card('Customers', ids.sales);
    ids.stock = await card('Stock levels', ids.warehouse);
    ids.ledger = await card('Ledger', ids.archive);
    ids.auditLog = await card('Audit log', ids.audit);
    await ds.query(
      `insert into admin_user (email, name, active) values ('admin@example.com', 'Admin', true), ('gone@example.com', 'Gone', false)`,
    );
    await ds.query(
      `insert into setting (key, value) values ('admin-email', 'ops@example.com, Admin@example.com')`,
    );

    await smtp.start(0);
    env = {
      NODE_ENV: 'test',
      DATABASE_URL: appDb.url,
      DATABASE_POOL_SIZE: '4',
      KAFKA_BROKERS: kafkaConfig.brokers.join(','),
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_TOPIC_PARTITIONS: String(kafkaConfig.partitions),
      KAFKA_SESSION_TIMEOUT_MS: '10000',
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtp.port),
      SMTP_TIMEOUT_MS: '5000',
      MAIL_FROM: 'alerts@mp.example.com',
      APP_BASE_URL: BASE_URL,
      ALERT_TIME_ZONE: 'Europe/Paris',
      ALERT_RUN_GRACE_MS: '60000',
      ALERT_ORPHAN_RUN_MS: '4000',
      EMAIL_RETRY_MIN_MS: '200',
      EMAIL_RETRY_MAX_MS: '1500',
      EMAIL_POLL_INTERVAL_MS: '200',
    };
    kafka = await createTestTopics(kafkaConfig);
    recorder = await new TopicRecorder(kafka, prefix, [Topics.DeadLetter]).start();
    await startApp();
  }, 90_000);

  afterAll(async () => {
    await stopApp();
    await recorder?.stop();
    await smtp.stop();
    await ds?.destroy();
    await appDb?.drop();
  }, 60_000);

  it('sends ONE email for a run with two failing models, naming both, to the setting and active admins', async () => {
    const run = runEvents({
      databaseId: ids.sales,
      at: T0,
      failures: [
        { cardId: ids.orders, errorClass: 'query', message: 'relation "orders" does not exist' },
        { cardId: ids.revenue, errorClass: 'permission', message: 'permission denied for table revenue' },
        // skipped (a lock) is not a failure
        { cardId: ids.customers, errorClass: 'lock', message: 'lock timeout', outcome: 'skipped' },
      ],
    });
    // the completion first: the run is decided only once its per-model events are in, whatever the order
    const runId = await publishRun(run, true);

    const [mail] = await smtp.waitFor((m) => m.subject === FAILED_SALES);
    expect(mail.to.map((a) => a.toLowerCase()).sort()).toEqual(['admin@example.com', 'ops@example.com']);
    expect(mail.from).toBe('alerts@mp.example.com');
    expect(mail.body).toContain('Orders by day');
    expect(mail.body).toContain('relation "orders" does not exist');
    expect(mail.body).toContain('Revenue by region');
    expect(mail.body).toContain('permission denied for table revenue');
    expect(mail.body).not.toContain('Customers');
    expect(mail.body).toContain(`${BASE_URL}/admin/models/${ids.orders}`);
    expect(mail.body).toContain(`${BASE_URL}/admin/models/${ids.revenue}`);
    expect(mail.body).toContain(`Last run at: ${formatTime(new Date(T0), 'Europe/Paris')}`);
    expect(mail.body).toContain('2026-11-20 11:00:00 GMT+1');
    expect(mail.body).toContain('Trigger: Scheduled');
    expect(mail.raw).toMatch(/Content-Type: text\/html/i);
    expect(mail.messageId).toBe(messageIdFor(`${runId}:failure`));

    await waitDecided(runId);
    expect(await outboxOf(runId)).toEqual([
      expect.objectContaining({ dedupe_key: `${runId}:failure`, kind: 'failure', status: 'sent' }),
    ]);
    expect(smtp.received.filter((m) => m.subject === FAILED_SALES)).toHaveLength(1);
  }, 90_000);

  it('stays silent when the same models fail with the same error class inside the window', async () => {
    const runId = await publishRun(
      runEvents({
        databaseId: ids.sales,
        at: T0 + H,
        failures: [
          { cardId: ids.orders, errorClass: 'query', message: 'relation "orders" does not exist' },
          { cardId: ids.revenue, errorClass: 'permission', message: 'permission denied for table revenue' },
        ],
      }),
    );
    await waitDecided(runId);
    expect(await outboxOf(runId)).toEqual([]);
  }, 90_000);

  it('sends a recovery email when an announced model succeeds, then always announces persisted → error', async () => {
    const recoveryRun = await publishRun(
      runEvents({
        databaseId: ids.sales,
        at: T0 + 2 * H,
        trigger: 'manual',
        cardId: ids.orders,
        successes: [ids.orders],
      }),
    );
    const [recovery] = await smtp.waitFor((m) => m.subject === RECOVERED_SALES);
    expect(recovery.body).toContain('Orders by day');
    expect(recovery.body).toContain('Trigger: Manual');
    await waitDecided(recoveryRun);
    expect((await outboxOf(recoveryRun)).map((r) => r.dedupe_key)).toEqual([`${recoveryRun}:recovery`]);

    // same class, inside the window, but the model was persisted in between: announced
    const failRun = await publishRun(
      runEvents({
        databaseId: ids.sales,
        at: T0 + 3 * H,
        failures: [
          { cardId: ids.orders, errorClass: 'query', message: 'relation "orders" does not exist' },
          { cardId: ids.revenue, errorClass: 'permission', message: 'permission denied for table revenue' },
        ],
      }),
    );
    const mails = await smtp.waitFor((m) => m.subject === FAILED_SALES, 2);
    expect(mails[1].messageId).toBe(messageIdFor(`${failRun}:failure`));
    expect(mails[1].body).toContain('Orders by day');
    // revenue never recovered and is still inside its window
    expect(mails[1].body).not.toContain('Revenue by region');

    // 26 h after revenue's announcement its window has elapsed; orders' (23 h) has not
    const laterRun = await publishRun(
      runEvents({
        databaseId: ids.sales,
        at: T0 + 26 * H,
        failures: [
          { cardId: ids.orders, errorClass: 'query', message: 'relation "orders" does not exist' },
          { cardId: ids.revenue, errorClass: 'permission', message: 'permission denied for table revenue' },
        ],
      }),
    );
    const third = await smtp.waitFor((m) => m.subject === FAILED_SALES, 3);
    expect(third[2].messageId).toBe(messageIdFor(`${laterRun}:failure`));
    expect(third[2].body).toContain('Revenue by region');
    expect(third[2].body).not.toContain('Orders by day');
  }, 90_000);

  it('delivers after the SMTP server comes back, across a notifier restart, without duplicates', async () => {
    await smtp.stop();
    const run = runEvents({
      databaseId: ids.warehouse,
      at: T0,
      failures: [
        { cardId: ids.stock, errorClass: 'connection', message: 'connect ECONNREFUSED 10.0.0.9:3306' },
      ],
    });
    const runId = await publishRun(run);
    // queued and already failing against the stopped server
    await eventually(async () => {
      const rows = await outboxOf(runId);
      return rows.length === 1 && rows[0].status === 'pending' && rows[0].attempts >= 2;
    }, 60_000);

    await stopApp();
    // redeliveries while the notifier is down: the same events again, and a second completion of the run
    const again = createEvent('RefreshRunCompleted', { ...run.completed, eventId: randomUUID() });
    await publish(Topics.RefreshFailed, ids.warehouse, run.perModel);
    await publish(Topics.RefreshRuns, ids.warehouse, [run.completed, again]);
    await smtp.start();
    await startApp();

    const [mail] = await smtp.waitFor((m) => m.subject === FAILED_WAREHOUSE, 1, 60_000);
    expect(mail.body).toContain('Stock levels');
    expect(mail.body).toContain('connect ECONNREFUSED 10.0.0.9:3306');
    expect(mail.messageId).toBe(messageIdFor(`${runId}:failure`));
    // the second completion (a new event id) has been consumed too
    await eventually(async () => {
      const rows = await ds.query<unknown[]>('select 1 from inbox where consumer = $1 and event_id = $2', [
        'notifier',
        again.eventId,
      ]);
      return rows.length === 1;
    }, 60_000);
    const rows = await outboxOf(runId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'sent' });
    expect(rows[0].attempts).toBeGreaterThanOrEqual(3);
    expect(smtp.received.filter((m) => m.subject === FAILED_WAREHOUSE)).toHaveLength(1);
  }, 120_000);

  it('announces the failures of a run that never completes (its refresher died), once', async () => {
    const run = runEvents({
      databaseId: ids.archive,
      at: T0,
      failures: [
        {
          cardId: ids.ledger,
          errorClass: 'timeout',
          message: 'canceling statement due to statement timeout',
        },
      ],
    });
    await publish(Topics.RefreshFailed, ids.archive, run.perModel);
    const [mail] = await smtp.waitFor((m) => m.subject === FAILED_ARCHIVE, 1, 60_000);
    expect(mail.body).toContain('Ledger');
    expect(mail.body).toContain('canceling statement due to statement timeout');

    // the completion shows up after all: already decided, nothing more
    await publish(Topics.RefreshRuns, ids.archive, [run.completed]);
    await eventually(async () => {
      const rows = await ds.query<unknown[]>('select 1 from inbox where consumer = $1 and event_id = $2', [
        'notifier',
        run.completed.eventId,
      ]);
      return rows.length === 1;
    }, 60_000);
    expect(await outboxOf(run.runId)).toEqual([expect.objectContaining({ kind: 'failure', status: 'sent' })]);
    expect(smtp.received.filter((m) => m.subject === FAILED_ARCHIVE)).toHaveLength(1);
  }, 90_000);

  it("decides one database's runs one at a time: two first failures of a model are announced once", async () => {
    // a session holding the database's alert lock: no decision about it may be taken meanwhile
    const holder = ds.createQueryRunner();
    await holder.connect();
    const lockKey = `alert-db:${ids.audit}`;
    const failure = {
      cardId: ids.auditLog,
      errorClass: 'query' as const,
      message: 'relation "audit" does not exist',
    };
    const runs = [T0, T0 + 1000].map((at) => runEvents({ databaseId: ids.audit, at, failures: [failure] }));
    try {
      await holder.query('select pg_advisory_lock(hashtext($1))', [lockKey]);
      await Promise.all(runs.map((r) => publishRun(r)));
      // a run completes with its results in, and its decision waits for the lock (holding up the consumer)
      await eventually(async () => {
        const rows = await ds.query<unknown[]>(
          `select 1 from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'advisory'`,
        );
        return rows.length >= 1;
      }, 60_000);
      await new Promise((r) => setTimeout(r, 1000));
      const decided = await ds.query<unknown[]>(
        'select 1 from alert_run where run_id = any($1::uuid[]) and decided_at is not null',
        [runs.map((r) => r.runId)],
      );
      expect(decided).toEqual([]);
      expect(smtp.received.filter((m) => m.subject === FAILED_AUDIT)).toHaveLength(0);
    } finally {
      await holder.query('select pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => undefined);
      await holder.release();
    }
    await smtp.waitFor((m) => m.subject === FAILED_AUDIT, 1, 60_000);
    for (const r of runs) await waitDecided(r.runId);
    await new Promise((r) => setTimeout(r, 1500));
    expect(smtp.received.filter((m) => m.subject === FAILED_AUDIT)).toHaveLength(1);
  }, 90_000);

  it('dead-letters malformed events and events about unknown databases, with the reason', async () => {
    await produceRaw(kafka, topicName(prefix, Topics.RefreshFailed), [
      { key: '1', value: '{"type": "RefreshFailed",' },
    ]);
    const unknown = runEvents({
      databaseId: 987_654,
      at: T0,
      failures: [{ cardId: 1, errorClass: 'query', message: 'boom' }],
    });
    await publishRun(unknown);

    const letters = await recorder.waitFor((m) => m.event?.type === 'DeadLetter', 3, 60_000);
    const dl = letters.map(
      (l) =>
        l.event as { reason: string; errorCode: string; source: { topic: string; consumerGroup: string } },
    );
    expect(dl.every((d) => d.source.consumerGroup === 'notifier')).toBe(true);
    expect(dl.some((d) => /not valid JSON/.test(d.reason))).toBe(true);
    const unknownDb = dl.filter((d) => d.errorCode === 'UNKNOWN_DATABASE');
    expect(unknownDb.map((d) => d.source.topic).sort()).toEqual(
      [topicName(prefix, Topics.RefreshFailed), topicName(prefix, Topics.RefreshRuns)].sort(),
    );
    expect(unknownDb.every((d) => d.reason === 'unknown database 987654')).toBe(true);
    expect(await outboxOf(unknown.runId)).toEqual([]);
  }, 90_000);
});
