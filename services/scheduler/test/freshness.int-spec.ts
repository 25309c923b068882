import { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Topics } from '@model-persistence/contracts';
import { kafkaMicroservice } from '@model-persistence/messaging';
import { ReceivedMessage } from '@model-persistence/testing';
import { AppModule } from '../src/app.module';
import { loadSchedulerConfig, schedulerConsumerGroup } from '../src/config';
import {
  createSchedulerTestBed,
  fireCounts,
  fireTime,
  header,
  SchedulerTestBed,
  schedulerEnv,
  sleep,
} from './scheduler.test-kit';

/*
 * Freshness targets end to end: models with a max_staleness in the app database, one scheduler in-process, the
 * top-up RefreshRequested read back from the real broker. The target is the smallest allowed (1 minute); the
 * rows' last_success_at is set in the past so the top-ups fall due within seconds.
 */
const FAR = '0 0 0 1 1 ? *'; // once a year: the cron never comes first here
const TARGET_S = 60;
let bed: SchedulerTestBed;
const apps: INestMicroservice[] = [];
let db1: number;
let db3: number;

const topUps = (cardId: number) =>
  bed.recorder.messages.filter((m) => m.event?.type === 'RefreshRequested' && m.event.cardId === cardId);

async function model(
  name: string,
  databaseId: number,
  target: number | null,
  state: string,
  lastSuccessAt: Date,
  lastBuildMs = 1000,
): Promise<number> {
  const card = await bed.cards.create({ name, databaseId, sql: 'select 1', refreshCron: FAR });
  await bed.ds.query(`update card set max_staleness_seconds = $2 where id = $1`, [card.id, target]);
  await bed.ds.query(
    `insert into persisted_info (database_id, card_id, question_slug, schema_name, table_name, active, state,
                                 last_success_at, refresh_begin, refresh_end, last_build_ms)
     values ($1, $2, $3, 's', $3, true, $4, $5, $5, $5, $6)`,
    [databaseId, card.id, `model_${card.id}`, state, lastSuccessAt, lastBuildMs],
  );
  return card.id;
}

beforeAll(async () => {
  bed = await createSchedulerTestBed('fresh', [Topics.RefreshRequested], FAR);
  db1 = await bed.addDatabase('kept fresh', true);
  db3 = await bed.addDatabase('persistence off', false);
}, 60_000);

afterAll(async () => {
  for (const app of apps) await app.close();
  await bed?.close();
}, 60_000);

describe('freshness targets (real Kafka and PostgreSQL)', () => {
  it('requests a refresh in time for the target, once per retry window, and only for live targeted models', async () => {
    const now = Date.now();
    // due in ~4 s: last success 40 s ago, target 60 s, lead = 1 s build + 15 s margin → top-up at L + 44 s
    const lastA = new Date(now - 40_000);
    const a = await model('target in 4 s', db1, TARGET_S, 'persisted', lastA);
    // long overdue (failing for an hour, say): one top-up at once, then at most one per retry window (60 s)
    const overdue = await model('overdue', db1, TARGET_S, 'error', new Date(now - 3_600_000));
    // no top-ups: no target; target but turned off; target but its database does not persist
    const noTarget = await model('no target', db1, null, 'persisted', new Date(now - 86_400_000));
    const off = await model('off', db1, TARGET_S, 'off', new Date(now - 86_400_000));
    const dbOff = await model('db off', db3, TARGET_S, 'persisted', new Date(now - 86_400_000));

    // two replicas: each plans the same top-ups, the schedule claims let one of them publish each
    for (const instance of ['fresh-1', 'fresh-2']) {
      const config = loadSchedulerConfig({
        ...schedulerEnv(bed, instance, 3),
        SCHEDULER_FRESHNESS_POLL_MS: '300',
      });
      const app = await NestFactory.createMicroservice(AppModule.forRoot(config), {
        ...kafkaMicroservice(config.kafka, { groupId: schedulerConsumerGroup(config) }),
        logger: ['error', 'warn'],
      });
      await app.listen();
      apps.push(app);
    }

    const [first] = await bed.recorder.waitFor(
      (m) => m.event?.type === 'RefreshRequested' && m.event.cardId === a,
      1,
      15_000,
    );
    const arrived = Date.now();
    expect(first.event).toMatchObject({
      type: 'RefreshRequested',
      databaseId: db1,
      cardId: a,
      trigger: 'scheduled',
      requestedBy: 'scheduler',
    });
    expect(header(first, 'schedule-key')).toBe(`freshness:${a}`);
    expect(fireTime(first)).toBe(lastA.getTime() + 44_000);
    // on the wire before the cache would pass its target, with the expected build time to spare
    expect(Number(first.raw.timestamp)).toBeGreaterThanOrEqual(lastA.getTime() + 44_000);
    expect(arrived).toBeLessThan(lastA.getTime() + TARGET_S * 1000 - 10_000);

    // a success moves the deadline: fresh as of 42 s ago → the next top-up 44 s after it (in ~2 s)
    const lastA2 = new Date(Date.now() - 42_000);
    await bed.ds.query(`update persisted_info set last_success_at = $2 where card_id = $1`, [a, lastA2]);
    const second = await bed.recorder.waitFor(
      (m) => m.event?.type === 'RefreshRequested' && m.event.cardId === a,
      2,
      15_000,
    );
    expect(fireTime(second[1])).toBe(lastA2.getTime() + 44_000);
    expect(second[1].event!.eventId).not.toBe(first.event!.eventId);

    await sleep(1500);
    const once = topUps(overdue);
    expect(once).toHaveLength(1); // no tight loop while it stays stale
    expect(header(once[0], 'schedule-key')).toBe(`freshness:${overdue}`);
    for (const id of [noTarget, off, dbOff]) expect(topUps(id)).toEqual([] as ReceivedMessage[]);
    expect(topUps(a)).toHaveLength(2);

    // each top-up went through the schedule claims (exactly-once across replicas)
    const claims = await bed.ds.query<{ schedule_key: string; published_at: Date | null }[]>(
      `select schedule_key, published_at from schedule_claim where schedule_key like 'freshness:%'`,
    );
    expect(claims.map((c) => c.schedule_key).sort()).toEqual(
      [`freshness:${a}`, `freshness:${a}`, `freshness:${overdue}`].sort(),
    );
    expect(claims.every((c) => c.published_at !== null)).toBe(true);
    const counts = fireCounts(
      bed.recorder.messages.filter((m) => header(m, 'schedule-key').startsWith('freshness:')),
    );
    expect([...counts.values()].flatMap((times) => [...times.values()]).every((n) => n === 1)).toBe(true);
  }, 60_000);

  it('clearing the target stops the top-ups', async () => {
    const [row] = await bed.ds.query<{ id: number }[]>(`select c.id from card c where c.name = 'overdue'`);
    await bed.ds.query(`update card set max_staleness_seconds = null where id = $1`, [row.id]);
    // make it due again if it still had a target: a new fresh-as-of time long ago
    await bed.ds.query(
      `update persisted_info set last_success_at = now() - interval '2 hours' where card_id = $1`,
      [row.id],
    );
    await sleep(2000);
    expect(topUps(row.id)).toHaveLength(1);
  }, 30_000);

  it('a success just before a top-up cancels it (re-checked at fire time, even without the poll)', async () => {
    while (apps.length) await apps.pop()!.close();
    const now = Date.now();
    const b = await model('success just in time', db1, TARGET_S, 'persisted', new Date(now - 40_000));
    const config = loadSchedulerConfig({
      ...schedulerEnv(bed, 'fresh-3', 3),
      SCHEDULER_FRESHNESS_POLL_MS: '0',
    });
    const app = await NestFactory.createMicroservice(AppModule.forRoot(config), {
      ...kafkaMicroservice(config.kafka, { groupId: schedulerConsumerGroup(config) }),
      logger: ['error', 'warn'],
    });
    await app.listen();
    apps.push(app);
    // loaded with its top-up due in ~4 s; the model then refreshes successfully by other means
    await bed.ds.query(`update persisted_info set last_success_at = now() where card_id = $1`, [b]);
    await sleep(6000);
    expect(topUps(b)).toEqual([] as ReceivedMessage[]);
    const claims = await bed.ds.query(`select 1 from schedule_claim where schedule_key = $1`, [
      `freshness:${b}`,
    ]);
    expect(claims).toEqual([]);
  }, 30_000);
});
