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
import { loadHistoryConfig } from '../src/config';

/**
 * The history service owns task_history and its inbox rows: its own jobs (started with the service module,
 * on a real PostgreSQL) trim task_history to TASK_HISTORY_KEEP and purge its inbox rows past
 * INBOX_RETENTION_HOURS, leaving other consumers' rows and recent rows alone.
 */
let db: TestAppDatabase;
let pg: Client;
let app: INestApplicationContext | null = null;

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);

async function inbox(consumer: string, processedAt: Date): Promise<string> {
  const id = randomUUID();
  await pg.query('insert into inbox (consumer, event_id, processed_at) values ($1, $2, $3)', [
    consumer,
    id,
    processedAt,
  ]);
  return id;
}

beforeAll(async () => {
  db = await createTestAppDatabase('historyhousekeeping');
  pg = new Client({ connectionString: db.url });
  await pg.connect();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await pg?.end();
  await db?.drop();
}, 60_000);

describe('history housekeeping (real PostgreSQL)', () => {
  it('trims task_history to the newest TASK_HISTORY_KEEP rows and purges only its own old inbox rows', async () => {
    for (let i = 0; i < 10; i++)
      await pg.query(
        `insert into task_history (task, started_at, status, run_id) values ('persist-refresh', $1, 'success', gen_random_uuid())`,
        [new Date(Date.parse('2026-01-01T00:00:00Z') + i * 60_000)],
      );
    const ownOld = [
      await inbox('history-projector', hoursAgo(3)),
      await inbox('history-projector', hoursAgo(50)),
    ];
    const ownRecent = await inbox('history-projector', hoursAgo(0.5));
    const othersOld = [await inbox('refresher', hoursAgo(50)), await inbox('notifier', hoursAgo(50))];

    const config = loadHistoryConfig({
      KAFKA_BROKERS: TEST_BROKERS.join(','),
      KAFKA_TOPIC_PREFIX: uniqueTopicPrefix('histhk'),
      DATABASE_URL: db.url,
      LOG_LEVEL: 'error',
      TASK_HISTORY_KEEP: '3',
      TASK_HISTORY_TRIM_INTERVAL_MS: '1000',
      INBOX_RETENTION_HOURS: '2',
      INBOX_PURGE_INTERVAL_MS: '1000',
    });
    app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error'] });
    await app.init();

    const kept = await eventually(async () => {
      const r = await pg.query<{ started_at: Date }>(
        'select started_at from task_history order by started_at',
      );
      return r.rows.length === 3 ? r.rows : null;
    }, 20_000);
    expect(kept.map((r) => r.started_at.toISOString())).toEqual([
      '2026-01-01T00:07:00.000Z',
      '2026-01-01T00:08:00.000Z',
      '2026-01-01T00:09:00.000Z',
    ]);
    const left = await eventually(async () => {
      const r = await pg.query<{ event_id: string }>('select event_id from inbox');
      const ids = r.rows.map((x) => x.event_id);
      return ownOld.some((id) => ids.includes(id)) ? null : ids;
    }, 20_000);
    expect(left.sort()).toEqual([ownRecent, ...othersOld].sort());
  }, 60_000);
});
