import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import {
  createTestAppDatabase,
  eventually,
  TEST_BROKERS,
  TestAppDatabase,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Client } from 'pg';
import { AppModule } from '../src/app.module';
import { loadNotifierConfig } from '../src/config';

/**
 * The notifier owns its alert tables and inbox rows: its purge jobs (started with the service module, on a
 * real PostgreSQL) delete decided runs and results past ALERT_RUN_RETENTION_DAYS, sent or dropped emails past
 * NOTIFICATION_RETENTION_DAYS, alert states of deleted models and its own inbox rows past
 * INBOX_RETENTION_HOURS; pending emails, undecided runs, recent rows and other consumers' inbox rows stay.
 */
let db: TestAppDatabase;
let pg: Client;
let app: INestApplicationContext | null = null;

const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000);

beforeAll(async () => {
  db = await createTestAppDatabase('notifierpurge');
  pg = new Client({ connectionString: db.url });
  await pg.connect();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await pg?.end();
  await db?.drop();
}, 60_000);

async function alertRun(decidedAt: Date | null, at: Date): Promise<string> {
  const runId = randomUUID();
  await pg.query(
    `insert into alert_run (run_id, database_id, trigger, started_at, ended_at, success, error, error_details,
                            completed_at, decided_at)
     values ($1, 1, 'scheduled', $2, $2, 0, 1, '[]', $2, $3)`,
    [runId, at, decidedAt],
  );
  await pg.query(
    `insert into alert_run_result (run_id, card_id, outcome, database_id, trigger, ended_at, created_at)
     values ($1, 7, 'error', 1, 'scheduled', $2, $2)`,
    [runId, at],
  );
  return runId;
}

async function email(status: string, createdAt: Date): Promise<number> {
  const r = await pg.query<{ id: string }>(
    `insert into notification_outbox (dedupe_key, kind, database_id, run_id, subject, text_body, html_body,
                                      status, created_at, next_attempt_at)
     values ($1, 'failure', 1, gen_random_uuid(), 's', 't', 'h', $2, $3, now() + interval '1 day')
     returning id`,
    [randomUUID(), status, createdAt],
  );
  return Number(r.rows[0].id);
}

async function inbox(consumer: string, processedAt: Date): Promise<string> {
  const id = randomUUID();
  await pg.query('insert into inbox (consumer, event_id, processed_at) values ($1, $2, $3)', [
    consumer,
    id,
    processedAt,
  ]);
  return id;
}

const column = async <T>(sql: string): Promise<T[]> =>
  (await pg.query<{ v: T }>(sql)).rows.map((r) => r.v).sort();

describe('notifier purge job (real PostgreSQL)', () => {
  it('purges its own old rows in its own job and leaves everything else', async () => {
    const oldDecided = await alertRun(daysAgo(3), daysAgo(3));
    const recentDecided = await alertRun(new Date(), new Date());
    const oldUndecided = await alertRun(null, daysAgo(3));
    const oldSent = await email('sent', daysAgo(3));
    const oldDropped = await email('dropped', daysAgo(3));
    const oldPending = await email('pending', daysAgo(3));
    const recentSent = await email('sent', new Date());
    const card = await pg.query<{ id: number }>(
      `insert into "database" (name, engine, host, port, db_name, user_name)
       values ('src', 'postgres', '127.0.0.1', 5432, 'x', 'u') returning id`,
    );
    const liveCard = await pg.query<{ id: number }>(
      `insert into card (name, database_id, query_sql, type) values ('m', $1, 'select 1', 'model') returning id`,
      [card.rows[0].id],
    );
    await pg.query(
      `insert into alert_state (card_id, database_id, announced) values ($1, 1, true), (987654, 1, true)`,
      [liveCard.rows[0].id],
    );
    const ownOld = await inbox('notifier', daysAgo(3));
    const ownRecent = await inbox('notifier', new Date());
    const othersOld = [await inbox('refresher', daysAgo(3)), await inbox('history-projector', daysAgo(3))];

    const config = loadNotifierConfig({
      KAFKA_BROKERS: TEST_BROKERS.join(','),
      KAFKA_TOPIC_PREFIX: uniqueTopicPrefix('notifpurge'),
      DATABASE_URL: db.url,
      LOG_LEVEL: 'error',
      SMTP_PORT: '1',
      ALERT_RUN_RETENTION_DAYS: '1',
      NOTIFICATION_RETENTION_DAYS: '1',
      NOTIFIER_PURGE_INTERVAL_MS: '1000',
      INBOX_RETENTION_HOURS: '24',
      INBOX_PURGE_INTERVAL_MS: '1000',
    });
    app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error'] });
    await app.init();

    // the jobs run concurrently with this test: wait until every table is in its purged state, then compare
    const ours = [oldSent, oldDropped, oldPending, recentSent];
    const snapshot = async () => ({
      runs: await column<string>('select run_id as v from alert_run'),
      results: await column<string>('select run_id as v from alert_run_result'),
      // (the sender may queue emails of its own meanwhile, e.g. for the old undecided run: only ours count)
      emails: (await column<number>('select id::int as v from notification_outbox')).filter((id) =>
        ours.includes(id),
      ),
      states: await column<number>('select card_id as v from alert_state'),
      inbox: await column<string>('select event_id as v from inbox'),
    });
    const expected = {
      runs: [recentDecided, oldUndecided].sort(),
      results: [recentDecided, oldUndecided].sort(),
      emails: [oldPending, recentSent].sort(),
      states: [liveCard.rows[0].id],
      inbox: [ownRecent, ...othersOld].sort(),
    };
    let last = await snapshot();
    await eventually(async () => {
      last = await snapshot();
      return JSON.stringify(last) === JSON.stringify(expected) ? true : null;
    }, 20_000).catch(() => undefined);
    expect(last).toEqual(expected);
    expect(last.runs).not.toContain(oldDecided);
    expect(last.inbox).not.toContain(ownOld);
  }, 60_000);
});
